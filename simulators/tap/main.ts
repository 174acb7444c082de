/**
 * Runs the TAP simulator with the options of `tap-mdr sim tap`, without loading the other CLI
 * commands. Benchmarks start it in a process of its own so that its memory is not counted.
 *
 * Usage: node --import tsx simulators/tap/main.ts [options of tap-mdr sim tap]
 */
import { runTapSimulator } from '../../client/commands/sim.ts';

await runTapSimulator(process.argv.slice(2));
