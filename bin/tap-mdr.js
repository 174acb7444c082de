#!/usr/bin/env node
// Entry point of the `tap-mdr` command: registers the TypeScript loader, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../client/cli.ts');
