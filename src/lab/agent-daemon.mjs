#!/usr/bin/env node
/**
 * A stand-in for pemagent, run detached by service-ctl.mjs. Like pemagent it reads agent.cfg and
 * its certificate/key files once, at start (a changed file needs a restart), and authenticates to
 * the PEM backend with the client certificate (sslmode=require: the server's certificate is not
 * checked). Every cycle it opens a new connection and inserts a heartbeat row carrying the
 * fingerprint/subject/issuer of the certificate it used; a refusal (TLS alert, auth failure) goes to
 * the log and is retried next cycle. It also re-reads agent.cfg each cycle, only to warn that a
 * change is waiting for a restart. Plain ESM so `node` runs it without a build.
 */
import { X509Certificate } from 'node:crypto';
import { appendFileSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values: opt } = parseArgs({
  options: {
    config: { type: 'string' },
    log: { type: 'string' },
    state: { type: 'string' },
    'interval-ms': { type: 'string', default: '1000' },
  },
});
if (!opt.config || !opt.log) {
  process.stderr.write('usage: agent-daemon.mjs --config agent.cfg --log file [--state file] [--interval-ms N]\n');
  process.exit(2);
}
const logFile = opt.log;
const intervalMs = Math.max(100, Number(opt['interval-ms']) || 1000);

function log(level, msg) {
  appendFileSync(logFile, `${new Date().toISOString()} ${level} ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
}

/** The [PEM/agent] section of agent.cfg as key/value pairs. */
function readConfig(path) {
  const text = readFileSync(path, 'utf8');
  const out = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (section === 'PEM/agent' && eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** libpq's private key permission rule (fe-secure-openssl.c). */
function keyPermissionError(path) {
  const st = statSync(path);
  if (!st.isFile()) return `private key file "${path}" is not a regular file`;
  const bad = st.uid === process.geteuid() ? st.mode & 0o077 : st.mode & 0o037;
  if (bad === 0) return null;
  return `private key file "${path}" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root`;
}

function oneLine(dn) {
  return dn.split('\n').join(', ');
}

let cfgText = '';
let cfg;
let cert;
let key;
let certInfo;
try {
  cfgText = readFileSync(opt.config, 'utf8');
  cfg = readConfig(opt.config);
  for (const k of ['pem_host', 'pem_port', 'agent_id', 'agent_ssl_key', 'agent_ssl_crt']) {
    if (!cfg[k]) throw new Error(`agent.cfg ${opt.config}: [PEM/agent] ${k} is missing`);
  }
  try {
    cert = readFileSync(cfg.agent_ssl_crt, 'utf8');
  } catch (e) {
    throw new Error(`could not open certificate file "${cfg.agent_ssl_crt}": ${e.code ?? e.message}`);
  }
  try {
    key = readFileSync(cfg.agent_ssl_key, 'utf8');
  } catch (e) {
    throw new Error(`could not open private key file "${cfg.agent_ssl_key}": ${e.code ?? e.message}`);
  }
  const x = new X509Certificate(cert);
  certInfo = { fingerprint: x.fingerprint256, subject: oneLine(x.subject), issuer: oneLine(x.issuer), notAfter: x.validTo };
} catch (e) {
  log('FATAL', `pemagent cannot start: ${e.message}`);
  process.exit(1);
}

const agentId = Number(cfg.agent_id);
const user = cfg.agent_user || `agent${agentId}`;
const state = {
  pid: process.pid,
  startedAt: new Date().toISOString(),
  agentId,
  user,
  certFile: cfg.agent_ssl_crt,
  keyFile: cfg.agent_ssl_key,
  cert: certInfo,
  lastOkAt: null,
  lastError: null,
  lastErrorAt: null,
};
function saveState() {
  if (!opt.state) return;
  const tmp = `${opt.state}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o644 });
  renameSync(tmp, opt.state);
}

log('INFO', `pemagent started: agent_id=${agentId} user=${user} server=${cfg.pem_host}:${cfg.pem_port} cert sha256 ${certInfo.fingerprint} subject "${certInfo.subject}" issuer "${certInfo.issuer}"`);
saveState();

let healthy = false;
let cfgWarned = false;
async function cycle() {
  let now = '';
  try {
    now = readFileSync(opt.config, 'utf8');
  } catch {
    now = '';
  }
  if (now !== cfgText && !cfgWarned) {
    log('WARN', `agent.cfg changed on disk; restart pemagent to apply it`);
    cfgWarned = true;
  }
  const permErr = keyPermissionError(cfg.agent_ssl_key);
  if (permErr) return fail(permErr);
  const client = new pg.Client({
    host: cfg.pem_host,
    port: Number(cfg.pem_port),
    database: 'pem',
    user,
    application_name: `pemagent ${agentId}`,
    connectionTimeoutMillis: 5000,
    ssl: { rejectUnauthorized: false, cert, key },
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(
      'INSERT INTO pem.agent_heartbeat (agent_id, at, cert_fingerprint, cert_issuer, cert_subject) VALUES ($1, now(), $2, $3, $4)',
      [agentId, certInfo.fingerprint, certInfo.issuer, certInfo.subject],
    );
    state.lastOkAt = new Date().toISOString();
    if (!healthy) log('INFO', `heartbeat ok: connected to ${cfg.pem_host}:${cfg.pem_port} as ${user}`);
    healthy = true;
    saveState();
  } catch (e) {
    fail(`could not connect to PEM server ${cfg.pem_host}:${cfg.pem_port} as ${user}: ${e.message}`);
  } finally {
    client.end().catch(() => {});
  }
}

let lastLogged = '';
let lastLoggedAt = 0;
/** Record a failure; the same error repeated is logged at most every 30 s to keep the log small. */
function fail(msg) {
  healthy = false;
  state.lastError = msg;
  state.lastErrorAt = new Date().toISOString();
  if (msg !== lastLogged || Date.now() - lastLoggedAt > 30_000) {
    log('ERROR', msg);
    lastLogged = msg;
    lastLoggedAt = Date.now();
  }
  saveState();
}

let timer;
let stopping = false;
async function loop() {
  if (stopping) return;
  await cycle().catch((e) => fail(`unexpected: ${e.message}`));
  if (!stopping) timer = setTimeout(loop, intervalMs);
}
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    stopping = true;
    clearTimeout(timer);
    log('INFO', `pemagent stopping (${sig})`);
    process.exit(0);
  });
}
process.on('SIGHUP', () => log('INFO', 'SIGHUP ignored: restart pemagent to re-read agent.cfg and certificates'));
void loop();
