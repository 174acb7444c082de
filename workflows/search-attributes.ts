/**
 * Custom search attributes of tap-mdr workflows. The dev server that tap-mdr starts registers
 * them; a server run by someone else needs them registered once with
 * `temporal operator search-attribute create`.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Organization that owns the device or alert. */
export const ORG_ID = defineSearchAttributeKey('TapMdrOrgId', SearchAttributeType.KEYWORD);

/** Device id within the organization. */
export const DEVICE_ID = defineSearchAttributeKey('TapMdrDeviceId', SearchAttributeType.KEYWORD);

/** Device health: `pending`, `healthy`, `credentials_rejected`, `polling_failed`, `not_polling` or `no_data`. */
export const DEVICE_HEALTH = defineSearchAttributeKey('TapMdrHealth', SearchAttributeType.KEYWORD);

/** Every key above, for server registration. */
export const TAP_MDR_SEARCH_ATTRIBUTES = [ORG_ID, DEVICE_ID, DEVICE_HEALTH];
