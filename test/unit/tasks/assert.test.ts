import { describe, expect, it } from 'vitest';
import { assertTask } from '../../../src/tasks/assert.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planOn } from '../../support/fake-steps.js';

describe('assert', () => {
  const cases: Array<{ args: Record<string, unknown>; failed?: string; reason?: string }> = [
    { args: { that: [true, true] }, reason: 'all assertions passed' },
    { args: { that: true, success_msg: 'chain ok' }, reason: 'chain ok' },
    { args: { that: [true, false], that_text: ['a == 1', 'days_left > 30'] }, failed: 'assertion failed: days_left > 30' },
    { args: { that: ['True', 'False'], that_text: ['x', 'y'], fail_msg: 'cert expires soon' }, failed: 'cert expires soon (false: y)' },
    { args: { that: false }, failed: 'assertion failed: condition #1' },
  ];
  for (const c of cases) {
    it(JSON.stringify(c.args), async () => {
      const plan = await planOn(assertTask, new FakeHost(), c.args);
      expect(plan.changed).toBe(false);
      expect(plan.failed).toBe(c.failed);
      if (c.reason) expect(plan.reason).toBe(c.reason);
    });
  }
  it('accepts expressions at load time, declares them for the runner, and refuses them unevaluated at plan', async () => {
    expect(assertTask.expressionArgs).toEqual(['that']);
    const plan = await planOn(assertTask, new FakeHost(), { that: ['x == 1'] });
    expect(plan.failed).toMatch(/reached assert unevaluated/);
  });
});
