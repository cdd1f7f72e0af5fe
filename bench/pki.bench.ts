/**
 * Throughput of pki/: sign N CSRs with a controller-held RSA-4096 CA and inspect N certificates,
 * next to openssl(1) doing the same work in one shell loop (one process per certificate, which is
 * what a shell-based playbook does). Run: `npx tsx bench/pki.bench.ts [N]` (default 1000).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { createCsr } from '../src/pki/csr.js';
import { generateKey } from '../src/pki/keys.js';
import { parseCertificate } from '../src/pki/inspect.js';
import { createSelfSignedCa, issueCertificate, randomSerialHex } from '../src/pki/sign.js';
import { leafExtfile } from '../src/tasks/lib/openssl.js';

const N = Number(process.argv[2] ?? 1000);
const dir = mkdtempSync(join(tmpdir(), 'fleetplay-bench-'));
const rate = (n: number, ms: number): string => `${((n * 1000) / ms).toFixed(0)}/s (${ms.toFixed(0)} ms)`;

try {
  const caKey = await generateKey({ type: 'rsa', bits: 4096 });
  const ca = { certPem: await createSelfSignedCa({ key: caKey.privateKey, subject: '/O=Bench/CN=Bench CA', days: 3650 }), key: caKey.privateKey };
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(join(dir, 'ca.key'), caKey.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ext.cnf'), leafExtfile('client', [], false));
  const csrs: string[] = [];
  for (let i = 0; i < N; i++) {
    const k = await generateKey({ type: 'ec', curve: 'P-256' });
    const csr = await createCsr({ key: k.privateKey, subject: `/O=Bench/CN=agent${i}` });
    csrs.push(csr);
    writeFileSync(join(dir, `a${i}.csr`), csr);
  }

  let t = performance.now();
  const certs: string[] = [];
  for (const csrPem of csrs) certs.push((await issueCertificate({ csrPem, ca, days: 365, usage: 'client' })).certPem);
  const oursSign = performance.now() - t;

  t = performance.now();
  const batch = 32;
  for (let i = 0; i < csrs.length; i += batch) {
    await Promise.all(csrs.slice(i, i + batch).map((csrPem) => issueCertificate({ csrPem, ca, days: 365, usage: 'client' })));
  }
  const oursSignPar = performance.now() - t;

  certs.forEach((c, i) => writeFileSync(join(dir, `a${i}.crt`), c));
  const serials = Array.from({ length: N }, () => `0x${randomSerialHex()}`).join(' ');
  t = performance.now();
  execFileSync('sh', ['-c', `cd "$1" && i=0; for s in $2; do openssl x509 -req -in a$i.csr -CA ca.crt -CAkey ca.key -set_serial $s -days 365 -extfile ext.cnf -extensions v3 -out o$i.crt 2>/dev/null; i=$((i+1)); done`, 'sh', dir, serials]);
  const osslSign = performance.now() - t;

  t = performance.now();
  for (const c of certs) parseCertificate(c);
  const oursInspect = performance.now() - t;

  t = performance.now();
  execFileSync('sh', ['-c', `cd "$1" && i=0; while [ $i -lt $2 ]; do openssl x509 -in a$i.crt -noout -subject -issuer -serial -enddate -fingerprint -sha256 >/dev/null; i=$((i+1)); done`, 'sh', dir, String(N)]);
  const osslInspect = performance.now() - t;

  const lines = [
    `pki bench, N=${N}, node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, ${new Date().toISOString().slice(0, 10)}`,
    `  sign (RSA-4096 CA, EC P-256 CSRs)   pki sequential ${rate(N, oursSign)} | pki 32 in flight ${rate(N, oursSignPar)} | openssl loop ${rate(N, osslSign)}`,
    `  inspect (subject, issuer, serial, dates, SHA-256 fingerprint, key)   pki ${rate(N, oursInspect)} | openssl loop ${rate(N, osslInspect)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
