import { describe, expect, it } from 'vitest';
import { set_factTask } from '../../../src/tasks/set_fact.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planOn } from '../../support/fake-steps.js';

describe('set_fact', () => {
  it('registers facts under ansible_facts, never changed', async () => {
    const plan = await planOn(set_factTask, new FakeHost(), { agent_id: 7, ca_host: 'pem1', cacheable: true });
    expect(plan).toMatchObject({ changed: false, reason: 'set agent_id, ca_host', result: { ansible_facts: { agent_id: 7, ca_host: 'pem1' } } });
    expect(() => set_factTask.args.parse({ 'bad-name': 1 })).toThrow(/invalid variable name/);
  });
});
