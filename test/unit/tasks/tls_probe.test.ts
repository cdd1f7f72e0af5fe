/**
 * tls_probe against in-process servers: a fake PostgreSQL that answers SSLRequest with 'S' (then
 * TLS) or 'N', and a plain TLS (https) server. The real cluster is in the integration tests.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sslRequestPacket, tlsProbeArgs, tlsProbeTask } from '../../../src/tasks/tls_probe.js';
import { testTaskContext } from '../../support/pg-cluster.js';

let cert = '';
let key = '';
const servers: Server[] = [];
let pgPort = 0;
let noSslPort = 0;
let httpsPort = 0;
const seen: Buffer[] = [];

function listen(s: Server): Promise<number> {
  servers.push(s);
  return new Promise((res) => s.listen(0, '127.0.0.1', () => res((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  const d = mkdtempSync(join(tmpdir(), 'fp-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(d, 'k'), '-out', join(d, 'c'), '-days', '3', '-subj', '/O=Lab/CN=pem.example'], { stdio: 'ignore' });
  cert = readFileSync(join(d, 'c'), 'utf8');
  key = readFileSync(join(d, 'k'), 'utf8');
  pgPort = await listen(
    createServer((sock) => {
      sock.once('data', (buf) => {
        seen.push(buf);
        sock.write('S');
        const tls = new TLSSocket(sock, { isServer: true, cert, key });
        tls.on('error', () => undefined);
      });
    }),
  );
  noSslPort = await listen(createServer((sock) => sock.once('data', () => sock.end('N'))));
  httpsPort = await listen(createTlsServer({ cert, key }, (s) => s.on('error', () => undefined)));
});

afterAll(() => {
  for (const s of servers) s.close();
});

async function probe(raw: object) {
  const { ctx } = testTaskContext(tlsProbeArgs.parse(raw));
  return tlsProbeTask.plan(ctx);
}

describe('tls_probe', () => {
  it('builds the SSLRequest packet: length 8, code 80877103', () => {
    expect(sslRequestPacket().toString('hex')).toBe('0000000804d2162f');
  });

  it('postgres: sends SSLRequest, handshakes, registers the served certificate', async () => {
    const p = await probe({ host: '127.0.0.1', port: pgPort, protocol: 'postgres' });
    expect(p.failed).toBeUndefined();
    expect(seen[0]?.toString('hex')).toBe('0000000804d2162f');
    const x = new X509Certificate(cert);
    expect(p.changed).toBe(false);
    expect(p.result).toMatchObject({
      subject: 'O=Lab, CN=pem.example',
      issuer: 'O=Lab, CN=pem.example',
      serial: x.serialNumber,
      fingerprint: x.fingerprint256,
      not_after: new Date(x.validTo).toISOString(),
      chain: ['O=Lab, CN=pem.example'],
    });
    expect(p.result?.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('https: a plain TLS connect', async () => {
    const p = await probe({ host: '127.0.0.1', port: httpsPort, protocol: 'https', servername: 'pem.example' });
    expect(p.result?.fingerprint).toBe(new X509Certificate(cert).fingerprint256);
  });

  it('fails when the server answers N (ssl = off)', async () => {
    const p = await probe({ host: '127.0.0.1', port: noSslPort, protocol: 'postgres' });
    expect(p.failed).toMatch(/answered N to SSLRequest: ssl is off/);
    expect(p.failed).toMatch(/fix: .*ssl = on/);
  });

  it('fails when tunnel is asked for but there is no connection to tunnel through', async () => {
    const p = await probe({ host: '127.0.0.1', port: pgPort, tunnel: true });
    expect(p.failed).toMatch(/no SSH connection/);
  });

  it('refuses bad args', () => {
    expect(tlsProbeArgs.safeParse({ host: 'x', port: 5432, protocol: 'ldap' }).success).toBe(false);
    expect(tlsProbeArgs.safeParse({ host: 'x' }).success).toBe(false);
  });
});
