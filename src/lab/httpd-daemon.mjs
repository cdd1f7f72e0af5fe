#!/usr/bin/env node
/**
 * A stand-in for PEM's Apache httpd, run detached by service-ctl.mjs: an HTTPS server on a loopback
 * port that takes its certificate and key from edb-ssl-pem.conf at start and again on SIGHUP
 * (reload). A reload with a broken conf or files is logged and the old certificate stays in use.
 */
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';
import { loadTls, parseHttpdConf } from './httpd-conf.mjs';

const { values: opt } = parseArgs({ options: { conf: { type: 'string' }, log: { type: 'string' } } });
if (!opt.conf || !opt.log) {
  process.stderr.write('usage: httpd-daemon.mjs --conf edb-ssl-pem.conf --log error_log\n');
  process.exit(2);
}
const logFile = opt.log;
function log(level, msg) {
  appendFileSync(logFile, `${new Date().toISOString()} ${level} ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
}

let conf;
let tls;
try {
  conf = parseHttpdConf(opt.conf);
  tls = loadTls(conf);
} catch (e) {
  log('FATAL', `httpd cannot start: ${e.message}`);
  process.exit(1);
}

const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('Postgres Enterprise Manager (fleetplay lab)\n');
});
server.on('error', (e) => {
  log('FATAL', `httpd: ${e.message}`);
  process.exit(1);
});
server.listen(conf.listen.port, conf.listen.host, () => {
  log('INFO', `httpd listening on ${conf.listen.host}:${conf.listen.port} cert sha256 ${tls.fingerprint} subject "${tls.subject}"`);
});

process.on('SIGHUP', () => {
  try {
    const next = parseHttpdConf(opt.conf);
    const nextTls = loadTls(next);
    server.setSecureContext({ cert: nextTls.cert, key: nextTls.key });
    if (next.listen.port !== conf.listen.port || next.listen.host !== conf.listen.host) {
      log('WARN', 'Listen changed: restart httpd to apply it');
    }
    conf = next;
    tls = nextTls;
    log('INFO', `httpd reloaded: cert sha256 ${tls.fingerprint} subject "${tls.subject}"`);
  } catch (e) {
    log('ERROR', `reload failed, keeping the old configuration: ${e.message}`);
  }
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log('INFO', `httpd stopping (${sig})`);
    server.close();
    process.exit(0);
  });
}
