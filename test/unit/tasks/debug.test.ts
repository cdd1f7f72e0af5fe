import { describe, expect, it } from 'vitest';
import { debugTask } from '../../../src/tasks/debug.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planOn } from '../../support/fake-steps.js';

describe('debug', () => {
  it('shows msg or a variable (registered first, then host vars)', async () => {
    const h = new FakeHost();
    expect(await planOn(debugTask, h, { msg: 'hi' })).toMatchObject({ changed: false, reason: 'hi', result: { msg: 'hi' } });
    const v = await planOn(debugTask, h, { var: 'r.stdout_lines[1]' }, { registered: { r: { stdout_lines: ['a', 'b'] } } });
    expect(v).toMatchObject({ reason: 'r.stdout_lines[1]: b', result: { 'r.stdout_lines[1]': 'b' } });
    expect((await planOn(debugTask, h, { var: 'pem_port' }, { vars: { pem_port: 5444 } })).reason).toBe('pem_port: 5444');
    expect((await planOn(debugTask, h, { var: 'nope' })).reason).toBe('nope: VARIABLE IS NOT DEFINED!');
  });
});
