/**
 * The physical floor of `noop`: a bare ssh2 loop, one connection per host, the same 20 commands
 * in sequence on it, every host in parallel, and nothing else (no journal, templating, output or
 * host-key check). Plain JS run by node, so no transpiler start-up is timed:
 *   node bench/lib/floor-ssh2.mjs <targets.json> [tasks]
 * targets.json: [{ address, port, user, keyFile }]
 */
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

function exec(c, cmd) {
  return new Promise((res, rej) => {
    c.exec(cmd, (err, ch) => {
      if (err) return rej(err);
      let code = -1;
      ch.on('exit', (c2) => (code = c2 ?? -1));
      ch.on('close', () => res(code));
      ch.resume();
      ch.stderr.resume();
    });
  });
}

async function host(t, key, tasks) {
  const c = new ssh2.Client();
  await new Promise((res, rej) => {
    c.once('ready', res);
    c.once('error', rej);
    c.connect({ host: t.address, port: t.port, username: t.user, privateKey: key, readyTimeout: 30_000 });
  });
  for (let i = 0; i < tasks; i++) {
    const code = await exec(c, 'true');
    if (code !== 0) throw new Error(`${t.address}: true exited ${code}`);
  }
  c.end();
}

const [file, tasksArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: floor-ssh2.mjs <targets.json> [tasks]');
const targets = JSON.parse(readFileSync(file, 'utf8'));
const key = readFileSync(targets[0].keyFile);
await Promise.all(targets.map((t) => host(t, key, Number(tasksArg ?? 20))));
