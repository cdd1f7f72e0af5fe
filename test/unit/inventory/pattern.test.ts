import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { applyLimit, selectHosts } from '../../../src/inventory/pattern.js';

const inv = loadInventory('test/fixtures/inventory/hosts.yaml');
const AGENTS = ['agent1', 'agent2', 'agent3', 'agent4'];

describe('selectHosts', () => {
  it.each([
    ['all', ['controller', 'pemserver', ...AGENTS]],
    ['*', ['controller', 'pemserver', ...AGENTS]],
    ['pem_agents', AGENTS],
    ['agent2', ['agent2']],
    ['agent*', AGENTS],
    ['pem_*', ['pemserver', ...AGENTS]],
    ['agent1:pem_server', ['pemserver', 'agent1']],
    ['agent1,pem_server', ['pemserver', 'agent1']],
    ['pem_agents:!dc_east', ['agent1', 'agent2']],
    ['!dc_east:pem_agents', ['agent1', 'agent2']],
    ['pem_agents:&dc_east', ['agent3', 'agent4']],
    ['all:!pem_agents:!controller', ['pemserver']],
    ['pem_agents[0]', ['agent1']],
    ['pem_agents[-1]', ['agent4']],
    ['pem_agents[1:2]', ['agent2', 'agent3']],
    ['~agent[24]', ['agent2', 'agent4']],
    ['ungrouped', ['controller']],
  ])('%s', (pattern, expected) => {
    expect(selectHosts(inv, pattern)).toEqual(expected);
  });

  it('fails on a term that names nothing, with a suggestion', () => {
    expect(() => selectHosts(inv, 'pem_agnets')).toThrow(InventoryError);
    try {
      selectHosts(inv, 'pem_server:pem_agnets');
    } catch (e) {
      expect((e as InventoryError).message).toContain('"pem_agnets" matches no host or group');
      expect((e as InventoryError).hint).toBe('did you mean "pem_agents"?');
    }
  });

  it('fails when the pattern selects no host', () => {
    expect(() => selectHosts(inv, 'dc_east:&pem_server')).toThrow(/selects no host/);
  });
});

describe('applyLimit', () => {
  it('restricts and keeps order', () => {
    expect(applyLimit(AGENTS, inv, 'dc_east')).toEqual(['agent3', 'agent4']);
    expect(applyLimit(AGENTS, inv, undefined)).toEqual(AGENTS);
    expect(applyLimit(AGENTS, inv, 'pemserver')).toEqual([]);
  });

  it('reads @file limits', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'fp-limit-')), 'retry');
    writeFileSync(f, 'agent4\n# comment\nagent2\n');
    expect(applyLimit(AGENTS, inv, `@${f}`)).toEqual(['agent2', 'agent4']);
  });
});
