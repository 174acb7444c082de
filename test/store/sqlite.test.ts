import { createSqliteDirectory } from './databases.ts';
import { defineStoreSuite } from './suite.ts';

defineStoreSuite('embedded SQLite', createSqliteDirectory);
