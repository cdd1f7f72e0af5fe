import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../../src/errors.js';
import { expandHostRange, loadInventory } from '../../../src/inventory/load.js';

const FIXTURE = 'test/fixtures/inventory/hosts.yaml';

function inventoryError(file: string): InventoryError {
  try {
    loadInventory(file);
  } catch (e) {
    if (e instanceof InventoryError) return e;
    throw e;
  }
  throw new Error('expected an InventoryError');
}

describe('loadInventory', () => {
  const inv = loadInventory(FIXTURE);

  it('reads hosts in inventory order, expanding ranges', () => {
    expect([...inv.hosts.keys()]).toEqual(['controller', 'pemserver', 'agent1', 'agent2', 'agent3', 'agent4']);
  });

  it('builds groups with members via children, and ungrouped', () => {
    expect(inv.groups.get('pem_agents')?.hosts).toEqual(['agent1', 'agent2', 'agent3', 'agent4']);
    expect(inv.groups.get('pem_agents')?.children).toEqual(['dc_east']);
    expect(inv.groups.get('dc_east')?.hosts).toEqual(['agent3', 'agent4']);
    expect(inv.groups.get('ungrouped')?.hosts).toEqual(['controller']);
    expect(inv.groups.get('all')?.hosts).toHaveLength(6);
    expect(inv.hosts.get('agent3')?.groups).toEqual(['pem_agents', 'dc_east']);
    expect(inv.hosts.get('controller')?.groups).toEqual([]);
  });

  it('merges vars: all < parent group < child group < host, vars files over inline', () => {
    const a1 = inv.hosts.get('agent1')?.vars;
    const a3 = inv.hosts.get('agent3')?.vars;
    const a4 = inv.hosts.get('agent4')?.vars;
    expect(a1?.['tier']).toBe('plain'); // pem_agents
    expect(a3?.['tier']).toBe('east'); // dc_east (child) over pem_agents (parent), from group_vars/dc_east.yaml
    expect(a4?.['tier']).toBe('special'); // host_vars/agent4.yml over every group
    expect(a4?.['ansible_user']).toBe('pem');
    expect(a4?.['ansible_host']).toBe('127.0.0.14'); // inline host var
    expect(a1?.['site']).toBe('from-group-vars-file'); // group_vars/all.yaml over inline all.vars
    expect(a1?.['pem_agent_cfg']).toBe('/usr/edb/pem/agent/etc/agent.cfg'); // group_vars/pem_agents/ directory
    expect(inv.hosts.get('pemserver')?.vars['pem_db_port']).toBe(5444);
    expect(a1?.['pem_db_port']).toBeUndefined();
  });

  it('keeps YAML 1.1 booleans as strings and applies ansible_group_priority', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fp-inv-'));
    const file = join(dir, 'hosts.yml');
    writeFileSync(
      file,
      'all:\n  children:\n    a:\n      hosts: {h1: {country: NO}}\n      vars: {x: a, ansible_group_priority: 10}\n    b:\n      hosts: {h1: }\n      vars: {x: b}\n',
    );
    mkdirSync(join(dir, 'host_vars'));
    const inv2 = loadInventory(file);
    expect(inv2.hosts.get('h1')?.vars['country']).toBe('NO');
    expect(inv2.hosts.get('h1')?.vars['x']).toBe('a');
  });

  it('refuses a clear-text password with its position, without repeating it', () => {
    const e = inventoryError('test/fixtures/inventory/broken/literal-password.yaml');
    expect(e.userMessage()).not.toContain('hunter2');
    expect(e.userMessage()).toBe(
      [
        'test/fixtures/inventory/broken/literal-password.yaml:7:11: "ansible_password" would keep a secret in clear text in the inventory; fleetplay refuses it',
        '              ansible_password: ********',
        '              ^',
        '  fix: put the secret in an environment variable and name that variable instead: ansible_password_env: MY_ENV_VAR',
      ].join('\n'),
    );
  });

  it('explains hosts written as a list and unknown group keys', () => {
    const msg = inventoryError('test/fixtures/inventory/broken/hosts-as-list.yaml').userMessage();
    expect(msg).toContain('2 problems found');
    expect(msg).toContain('hosts-as-list.yaml:5:9: "hosts" of group "pem_agents" must be a mapping');
    expect(msg).toContain('hosts-as-list.yaml:7:7: unknown key "varz" in group "pem_agents"');
    expect(msg).toContain('did you mean "vars"?');
  });

  it('reports a missing file and a YAML error', () => {
    expect(inventoryError('test/fixtures/inventory/nope.yaml').message).toContain('no such file');
    const dir = mkdtempSync(join(tmpdir(), 'fp-inv-'));
    writeFileSync(join(dir, 'i.yaml'), 'all:\n  hosts:\n    a: 1\n    a: 2\n');
    expect(inventoryError(join(dir, 'i.yaml')).message).toContain('duplicate key "a"');
  });
});

describe('inventory.example.yaml', () => {
  it('loads, with the PEM vars the playbooks use', () => {
    const ex = loadInventory('inventory.example.yaml');
    expect(ex.groups.get('pem_server')?.hosts).toEqual(['pem-server-01']);
    expect(ex.groups.get('pem_agents')?.hosts).toEqual(['pem-agent-01', 'pem-agent-02', 'pem-agent-03', 'pem-agent-db7']);
    expect(ex.hosts.get('pem-server-01')?.vars).toMatchObject({
      pem_data_dir: '/var/lib/edb/as15/data',
      pem_db_port: 5444,
      pem_db_os_user: 'enterprisedb',
      pem_cert_dir: '/root/.pem',
    });
    expect(ex.hosts.get('pem-agent-02')?.vars['pem_agent_cfg']).toBe('/usr/edb/pem/agent/etc/agent.cfg');
  });
});

describe('expandHostRange', () => {
  it('expands numeric ranges with padding and letter ranges', () => {
    expect(expandHostRange('agent[08:10].lab')).toEqual(['agent08.lab', 'agent09.lab', 'agent10.lab']);
    expect(expandHostRange('db-[a:c]')).toEqual(['db-a', 'db-b', 'db-c']);
    expect(expandHostRange('plain')).toEqual(['plain']);
  });
});
