/**
 * fleetplay's CLI from the harness's own build of src/ (bench/.work/build, made by `tsc -p
 * tsconfig.build.json --outDir ...`), exactly as bin/fleetplay.js runs dist/: compiled JS, no
 * transpiler in the timed process.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { main } = await import(pathToFileURL(resolve(import.meta.dirname, '..', '.work', 'build', 'cli.js')).href);
process.exitCode = await main(process.argv);
