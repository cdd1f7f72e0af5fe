import { homedir, userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../../src/errors.js';
import { connectionSpecFor } from '../../../src/inventory/connection.js';
import type { InventoryHost } from '../../../src/inventory/types.js';

const defaults = { knownHostsFile: '/tmp/kh', acceptUnknownHostKey: false, connectTimeoutMs: 5000 };
const host = (name: string, vars: Record<string, unknown>): InventoryHost => ({ name, groups: [], vars });

describe('connectionSpecFor', () => {
  it('maps Ansible connection variables', () => {
    const spec = connectionSpecFor(
      host('agent1', {
        ansible_host: '127.0.0.11',
        ansible_port: '2222',
        ansible_user: 'ops',
        ansible_ssh_private_key_file: '/keys/id_ed25519',
        ansible_become: 'yes',
        ansible_become_user: 'enterprisedb',
        fleetplay_key_passphrase_env: 'KEY_PASS',
        ansible_password_env: 'SSH_PW',
        ansible_ssh_common_args: '-o ProxyJump=bastion',
      }),
      defaults,
    );
    expect(spec).toMatchObject({
      name: 'agent1',
      kind: 'ssh',
      address: '127.0.0.11',
      port: 2222,
      user: 'ops',
      privateKeyFile: '/keys/id_ed25519',
      privateKeyPassphraseEnv: 'KEY_PASS',
      passwordEnv: 'SSH_PW',
      become: true,
      becomeUser: 'enterprisedb',
      knownHostsFile: '/tmp/kh',
      acceptUnknownHostKey: false,
      connectTimeoutMs: 5000,
    });
  });

  it('defaults: port 22, current user, name as address, become root', () => {
    const spec = connectionSpecFor(host('db1', {}), defaults);
    expect(spec).toMatchObject({ kind: 'ssh', address: 'db1', port: 22, user: userInfo().username, become: false, becomeUser: 'root' });
  });

  it('expands ~ in the key path', () => {
    expect(connectionSpecFor(host('a', { ansible_ssh_private_key_file: '~/.ssh/id' }), defaults).privateKeyFile).toBe(`${homedir()}/.ssh/id`);
  });

  it('local connections', () => {
    expect(connectionSpecFor(host('localhost', {}), defaults).kind).toBe('local');
    expect(connectionSpecFor(host('ctl', { ansible_connection: 'local' }), defaults).kind).toBe('local');
    expect(connectionSpecFor(host('localhost', { ansible_host: '127.0.0.5' }), defaults).kind).toBe('ssh');
  });

  it('refuses literal passwords and secret-looking env names without echoing them', () => {
    for (const key of ['ansible_password', 'ansible_ssh_pass']) {
      expect(() => connectionSpecFor(host('a', { [key]: 's3cret!' }), defaults)).toThrow(InventoryError);
    }
    try {
      connectionSpecFor(host('a', { fleetplay_password_env: 'p@ss w0rd' }), defaults);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(InventoryError);
      expect((e as InventoryError).userMessage()).not.toContain('p@ss');
    }
  });

  it('rejects bad ports and connection kinds', () => {
    expect(() => connectionSpecFor(host('a', { ansible_port: 'abc' }), defaults)).toThrow(/ansible_port/);
    expect(() => connectionSpecFor(host('a', { ansible_connection: 'winrm' }), defaults)).toThrow(/not supported/);
  });
});
