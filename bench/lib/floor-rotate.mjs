/**
 * The hand-written floor of `rotate`: per host, plain `ssh` (OpenSSH client, the fleet's
 * known_hosts, host keys checked) runs part 1 (backup, key, CSR to stdout), `openssl x509 -req`
 * signs on the controller, and a second `ssh` runs part 2 (install the certificate from stdin,
 * agent.cfg, restart, verify). Every host at once. The remote command strings arrive ready-made
 * (quoted by src/shell/quote.ts in the harness):
 *   node bench/lib/floor-rotate.mjs <targets.json>
 * targets.json: { sshOpts: string[], caCert, caKey, extFile, hosts: [{ dest, port, part1, part2 }] }
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

function run(argv, input) {
  return new Promise((res, rej) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${argv.slice(0, 4).join(' ')} exited ${code}: ${err.trim()}`))));
    child.stdin.end(input ?? '');
  });
}

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
await Promise.all(
  spec.hosts.map(async (h) => {
    const ssh = ['ssh', ...spec.sshOpts, '-p', String(h.port), h.dest];
    const csr = await run([...ssh, h.part1]);
    const serial = `0x${randomBytes(16).toString('hex')}`;
    const cert = await run(['openssl', 'x509', '-req', '-CA', spec.caCert, '-CAkey', spec.caKey, '-set_serial', serial, '-days', '365', '-extfile', spec.extFile, '-extensions', 'v3'], csr);
    await run([...ssh, h.part2], cert);
  }),
);
