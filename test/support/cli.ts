/** Runs the CLI from source (for tests that need a separate process, e.g. to SIGKILL it). */
import { main } from '../../src/cli.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
