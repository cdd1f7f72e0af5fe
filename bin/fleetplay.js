#!/usr/bin/env node
import { main } from '../dist/cli.js';

// Output piped into a reader that went away (`fleetplay run ... | head`) must not crash the run:
// the steps in flight still finish and the journal is still written; only the output is lost.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
