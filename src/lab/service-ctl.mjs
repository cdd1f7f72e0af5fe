#!/usr/bin/env node
/**
 * The lab's `systemctl` for its stand-in services (pemagent, httpd), which fleetplay's `service`
 * module drives over SSH through the inventory's fleetplay_service_commands:
 *   node service-ctl.mjs <pemagent|httpd> --root <host root> [--interval-ms N] <start|stop|restart|status|reload|configtest>
 * Daemons run detached (own session, no terminal) so they outlive the SSH session and `lab up`.
 * The PID file lives under the host root; status exits 0 when running and 3 when not (LSB).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadTls, parseHttpdConf } from './httpd-conf.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { root: { type: 'string' }, 'interval-ms': { type: 'string', default: '1000' } },
});
const [service, action] = positionals;
const root = opt.root;
if (!root || !service || !action) {
  process.stderr.write('usage: service-ctl.mjs <pemagent|httpd> --root DIR <start|stop|restart|status|reload|configtest>\n');
  process.exit(2);
}

const specs = {
  pemagent: {
    script: join(here, 'agent-daemon.mjs'),
    log: join(root, 'var/log/pem/agent.log'),
    args: [
      '--config', join(root, 'usr/edb/pem/agent/etc/agent.cfg'),
      '--log', join(root, 'var/log/pem/agent.log'),
      '--state', join(root, 'var/run/pemagent.state.json'),
      '--interval-ms', String(opt['interval-ms']),
    ],
  },
  httpd: {
    script: join(here, 'httpd-daemon.mjs'),
    log: join(root, 'var/log/httpd/error_log'),
    conf: join(root, 'etc/httpd/conf.d/edb-ssl-pem.conf'),
    args: ['--conf', join(root, 'etc/httpd/conf.d/edb-ssl-pem.conf'), '--log', join(root, 'var/log/httpd/error_log')],
  },
};
const spec = specs[service];
if (!spec) {
  process.stderr.write(`unknown service "${service}" (known: ${Object.keys(specs).join(', ')})\n`);
  process.exit(2);
}
const pidFile = join(root, 'var/run', `${service}.pid`);

/** The running daemon's pid, or null (a stale pid file or a reused pid does not count). */
function runningPid() {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(spec.script) ? pid : null;
  } catch {
    return null;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(file, n = 5) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

async function start() {
  const pid = runningPid();
  if (pid !== null) {
    process.stdout.write(`${service} is already running (pid ${pid})\n`);
    return 0;
  }
  mkdirSync(dirname(pidFile), { recursive: true });
  mkdirSync(dirname(spec.log), { recursive: true });
  const out = openSync(spec.log, 'a');
  const child = spawn(process.execPath, [spec.script, ...spec.args], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  const childPid = child.pid;
  child.unref();
  if (childPid === undefined) {
    process.stderr.write(`${service}: could not start ${spec.script}\n`);
    return 1;
  }
  writeFileSync(pidFile, `${childPid}\n`, { mode: 0o644 });
  let exited = null;
  child.on('exit', (code) => {
    exited = code;
  });
  await sleep(400);
  if (exited !== null) {
    rmSync(pidFile, { force: true });
    process.stderr.write(`${service} failed to start (exit ${exited}):\n${tail(spec.log)}\n`);
    return 1;
  }
  process.stdout.write(`${service} started (pid ${childPid})\n`);
  return 0;
}

async function stop() {
  const pid = runningPid();
  if (pid === null) {
    rmSync(pidFile, { force: true });
    process.stdout.write(`${service} is not running\n`);
    return 0;
  }
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && runningPid() === pid; i++) await sleep(100);
  if (runningPid() === pid) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 20 && runningPid() === pid; i++) await sleep(50);
  rmSync(pidFile, { force: true });
  process.stdout.write(`${service} stopped (pid ${pid})\n`);
  return 0;
}

function configtest() {
  if (!spec.conf) {
    process.stderr.write(`${service} has no configtest\n`);
    return 2;
  }
  try {
    loadTls(parseHttpdConf(spec.conf));
    process.stdout.write('Syntax OK\n');
    return 0;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
}

async function main() {
  switch (action) {
    case 'start':
      return start();
    case 'stop':
      return stop();
    case 'restart': {
      await stop();
      return start();
    }
    case 'status': {
      const pid = runningPid();
      process.stdout.write(pid === null ? `${service} is not running\n` : `${service} is running (pid ${pid})\n`);
      return pid === null ? 3 : 0;
    }
    case 'reload': {
      const pid = runningPid();
      if (pid === null) {
        process.stderr.write(`${service} is not running; cannot reload\n`);
        return 7;
      }
      if (service === 'httpd' && configtest() !== 0) return 1;
      process.kill(pid, 'SIGHUP');
      return 0;
    }
    case 'configtest':
      return configtest();
    default:
      process.stderr.write(`unknown action "${action}"\n`);
      return 2;
  }
}

process.exit(await main());
