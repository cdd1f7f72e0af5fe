/**
 * The bench fleet: one real sshd per simulated host on loopback (src/lab/sshd.ts), one inventory
 * that fleetplay and Ansible both read (Ansible's YAML format), a controller-held CA, and the
 * per-host files the rotate scenario starts from. Reseeding is done before every rotate run, so
 * each tool does the full rotation every time. Stops only the sshd and stand-in daemons it started.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startSshdFleet } from '../../src/lab/sshd.js';
import type { SshdFleet, SshdHost } from '../../src/lab/sshd.js';

export const BENCH_DIR = resolve(import.meta.dirname, '..');
export const SVC = join(BENCH_DIR, 'fixtures', 'svc.sh');
export const EXT_FILE = join(BENCH_DIR, 'fixtures', 'client-ext.cnf');

export interface BenchFleet {
  n: number;
  dir: string;
  sshd: SshdFleet;
  hosts: SshdHost[];
  inventory: string;
  caCert: string;
  caKey: string;
  /** Put every host back to the pre-rotation state (old key/cert, old agent.cfg, no backups). */
  seedRotate(): void;
  stop(): Promise<void>;
}

export const pemDir = (root: string): string => join(root, 'etc', 'pem');

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA (RSA-4096, like PEM's default) and the "old" agent pair (RSA-2048), made once per fleet dir. */
function makeCa(dir: string): { caCert: string; caKey: string; oldKey: string; oldCert: string } {
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  const oldKey = join(dir, 'old.key');
  const oldCert = join(dir, 'old.crt');
  if (!existsSync(caCert)) {
    openssl(['req', '-x509', '-newkey', 'rsa:4096', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '3650', '-subj', '/O=Bench/CN=Bench CA']);
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', oldKey, '-out', oldCert, '-days', '30', '-subj', '/O=Bench/CN=old self-signed']);
  }
  return { caCert, caKey, oldKey, oldCert };
}

function inventoryYaml(f: SshdFleet, extra: Record<string, string>): string {
  const hosts = f.hosts
    .map((h) => `        ${h.name}:\n          ansible_host: ${h.address}\n          ansible_port: ${h.port}\n          root: ${h.root}\n          fleetplay_backup_dir: ${h.root}/backups`)
    .join('\n');
  const vars = Object.entries({
    ansible_user: 'root',
    ansible_ssh_private_key_file: f.clientKeyFile,
    ansible_python_interpreter: '/usr/bin/python3',
    fleetplay_known_hosts_file: f.knownHostsFile,
    ...extra,
  })
    .map(([k, v]) => `    ${k}: ${v}`)
    .join('\n');
  return `all:\n  vars:\n${vars}\n  children:\n    agents:\n      hosts:\n${hosts}\n`;
}

export async function startBenchFleet(n: number, workDir: string): Promise<BenchFleet> {
  const dir = join(workDir, `fleet-${n}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const names = Array.from({ length: n }, (_, i) => `agent${String(i + 1).padStart(3, '0')}`);
  const sshd = await startSshdFleet({ dir, names });
  const ca = makeCa(dir);
  const inventory = join(dir, 'inventory.yaml');
  writeFileSync(inventory, inventoryYaml(sshd, { ca_cert: ca.caCert, ca_key: ca.caKey, svc: SVC, ext_file: EXT_FILE }));
  const seedRotate = (): void => {
    for (const h of sshd.hosts) {
      const pem = pemDir(h.root);
      rmSync(join(h.root, 'backups'), { recursive: true, force: true });
      mkdirSync(join(h.root, 'backups'), { recursive: true, mode: 0o700 });
      mkdirSync(pem, { recursive: true });
      rmSync(join(pem, 'agent.csr'), { force: true });
      copyFileSync(ca.oldKey, join(pem, 'agent.key'));
      copyFileSync(ca.oldCert, join(pem, 'agent.crt'));
      copyFileSync(ca.caCert, join(pem, 'ca.crt'));
      writeFileSync(join(pem, 'agent.cfg'), '[PEM/agent]\npem_host=127.0.0.1\npem_port=5432\nagent_ssl_key=/old/agent.key\nagent_ssl_crt=/old/agent.crt\n', { mode: 0o644 });
    }
  };
  return {
    n,
    dir,
    sshd,
    hosts: sshd.hosts,
    inventory,
    caCert: ca.caCert,
    caKey: ca.caKey,
    seedRotate,
    async stop() {
      // The stand-in daemons were started by our runs: stop each through its own pid file.
      for (const h of sshd.hosts) {
        try {
          execFileSync(SVC, [h.root, 'stop'], { stdio: 'ignore' });
        } catch {
          // not running
        }
      }
      await sshd.stop();
    },
  };
}
