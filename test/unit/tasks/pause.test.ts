import { describe, expect, it } from 'vitest';
import { pauseTask, isConfirmationPause } from '../../../src/tasks/pause.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn } from '../../support/fake-steps.js';

describe('pause', () => {
  it('a timed pause sleeps in its call step; a confirmation pause is the runner gate', async () => {
    const h = new FakeHost();
    const timed = await planOn(pauseTask, h, { seconds: 0.2, prompt: 'let agents reconnect' });
    expect(timed).toMatchObject({ changed: false, reason: 'let agents reconnect: pause 0.2s' });
    const t0 = Date.now();
    await applyFakeSteps(h, timed.steps);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    const gate = await planOn(pauseTask, h, { prompt: 'Restart the PEM server now?' });
    expect(gate.steps[0]).toMatchObject({ kind: 'call', label: 'confirm: Restart the PEM server now?' });
    expect(isConfirmationPause(pauseTask.args.parse({ prompt: 'x' }) as never)).toBe(true);
  });
});
