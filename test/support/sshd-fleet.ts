/**
 * Integration-test helper: a real sshd fleet in a temp directory, and a ConnectionSpec per host
 * like the one the runner builds from an inventory (root with the fleet's client key, host keys
 * checked against the fleet's known_hosts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshdFleet } from '../../src/lab/sshd.js';
import type { SshdFleet, SshdHost } from '../../src/lab/sshd.js';
import type { ConnectionSpec } from '../../src/transport/types.js';

export interface TestFleet {
  fleet: SshdFleet;
  hosts: SshdHost[];
  /** The ConnectionSpec for a host, with overrides. */
  spec(name: string, overrides?: Partial<ConnectionSpec>): ConnectionSpec;
  /** Stop every sshd and remove the temp dir. */
  dispose(): Promise<void>;
}

export async function startTestFleet(names: string[] = ['web1', 'web2', 'db1']): Promise<TestFleet> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetplay-sshd-'));
  const fleet = await startSshdFleet({ dir, names });
  return {
    fleet,
    hosts: fleet.hosts,
    spec(name, overrides = {}) {
      const h = fleet.hosts.find((x) => x.name === name);
      if (h === undefined) throw new Error(`no host ${name} in the test fleet`);
      return {
        name: h.name,
        kind: 'ssh',
        address: h.address,
        port: h.port,
        user: fleet.user,
        privateKeyFile: fleet.clientKeyFile,
        become: false,
        becomeUser: 'root',
        knownHostsFile: fleet.knownHostsFile,
        acceptUnknownHostKey: false,
        connectTimeoutMs: 10_000,
        keepaliveIntervalMs: 5_000,
        ...overrides,
      };
    },
    async dispose() {
      await fleet.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
