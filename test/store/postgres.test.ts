import { createPostgresSchema } from './databases.ts';
import { defineStoreSuite } from './suite.ts';

defineStoreSuite('PostgreSQL', createPostgresSchema);
