/**
 * tls_probe: the certificate a server actually serves (after a reload it may still serve the old
 * one: PostgreSQL keeps its old SSL context when the new files fail to load). For postgres it sends
 * the SSLRequest (length 8, code 80877103), expects 'S', then does the TLS handshake; for https a
 * plain TLS connect. Nothing is verified (rejectUnauthorized false): it reports, it does not judge.
 * Registers subject, issuer, serial, SHA-256 fingerprint (colon hex), notAfter and the chain's subjects.
 * Read-only: never changes anything; an unreachable server or a refusal is `failed` with a hint.
 */
import { isIP, connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { DetailedPeerCertificate } from 'node:tls';
import { z } from 'zod';
import { defineTask, noChange } from './types.js';
import { certFacts } from './lib/pg.js';
import type { CertFacts } from './lib/pg.js';

const portArg = z.union([z.number().int().min(1).max(65535), z.string().regex(/^\d{1,5}$/).transform(Number)]);

export const tlsProbeArgs = z
  .object({
    host: z.string().min(1),
    port: portArg,
    protocol: z.enum(['postgres', 'https']).default('postgres'),
    servername: z.string().min(1).optional(),
    /** Connect through the target host's SSH connection instead of from the controller. */
    tunnel: z.boolean().default(false),
    timeout_ms: z.number().int().positive().default(10_000),
  })
  .strict();

export type TlsProbeArgs = z.infer<typeof tlsProbeArgs>;

/** The PostgreSQL SSLRequest packet: Int32 length 8, Int32 80877103. */
export function sslRequestPacket(): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(80877103, 4);
  return b;
}

function openRaw(host: string, port: number): Promise<Duplex> {
  return new Promise((res, rej) => {
    const s = netConnect({ host, port }, () => {
      s.removeListener('error', rej);
      res(s);
    });
    s.once('error', rej);
  });
}

/** Send SSLRequest and read the one-byte answer. */
function startTlsPostgres(sock: Duplex): Promise<void> {
  return new Promise((res, rej) => {
    const onData = (buf: Buffer) => {
      cleanup();
      const c = String.fromCharCode(buf[0] ?? 0);
      if (c === 'S') res();
      else if (c === 'N') rej(new Error('the server answered N to SSLRequest: ssl is off'));
      else rej(new Error(`unexpected answer to SSLRequest: 0x${(buf[0] ?? 0).toString(16)}`));
    };
    const onErr = (e: Error) => {
      cleanup();
      rej(e);
    };
    const onEnd = () => {
      cleanup();
      rej(new Error('the server closed the connection after SSLRequest'));
    };
    const cleanup = () => {
      sock.removeListener('data', onData);
      sock.removeListener('error', onErr);
      sock.removeListener('end', onEnd);
    };
    sock.once('data', onData);
    sock.once('error', onErr);
    sock.once('end', onEnd);
    sock.write(sslRequestPacket());
  });
}

function handshake(sock: Duplex, servername: string | undefined, timeoutMs: number): Promise<DetailedPeerCertificate> {
  return new Promise((res, rej) => {
    const tls = tlsConnect({ socket: sock, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
    const timer = setTimeout(() => {
      tls.destroy();
      rej(new Error(`TLS handshake timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = tls.getPeerCertificate(true);
      tls.destroy();
      if (!cert || !cert.raw) rej(new Error('the server presented no certificate'));
      else res(cert);
    });
    tls.once('error', (e) => {
      clearTimeout(timer);
      tls.destroy();
      rej(e);
    });
  });
}

/** Connect and return facts about the presented certificate. */
export async function probeTls(
  a: Pick<TlsProbeArgs, 'host' | 'port' | 'protocol' | 'servername' | 'timeout_ms'>,
  open: (host: string, port: number) => Promise<Duplex> = openRaw,
): Promise<CertFacts> {
  const sock = await open(a.host, a.port);
  try {
    if (a.protocol === 'postgres') await startTlsPostgres(sock);
    const servername = a.servername ?? (isIP(a.host) === 0 ? a.host : undefined);
    return certFacts(await handshake(sock, servername, a.timeout_ms));
  } finally {
    sock.destroy();
  }
}

export const tlsProbeTask = defineTask({
  name: 'tls_probe',
  args: tlsProbeArgs,
  async plan(ctx) {
    const a = ctx.args;
    const open = a.tunnel ? ctx.openTcp : undefined;
    if (a.tunnel && !open) {
      return { changed: false, steps: [], failed: 'tunnel: true, but this host has no SSH connection to tunnel through' };
    }
    try {
      const facts = await probeTls(a, open ? (h, p) => open(h, p) : undefined);
      return noChange(`${a.host}:${a.port} serves ${facts.subject} (SHA-256 ${facts.fingerprint.slice(0, 23)}...)`, {
        subject: facts.subject,
        issuer: facts.issuer,
        serial: facts.serial,
        fingerprint: facts.fingerprint,
        not_before: facts.notBefore,
        not_after: facts.notAfter,
        chain: facts.chain,
      });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      return {
        changed: false,
        steps: [],
        failed: `TLS probe of ${a.host}:${a.port} (${a.protocol}) failed: ${msg}\n  fix: is the server running and listening there${a.protocol === 'postgres' ? ' with ssl = on' : ''}?`,
      };
    }
  },
});
