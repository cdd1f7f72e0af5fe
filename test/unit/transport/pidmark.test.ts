/** The PID marker line the SSH transport puts first on stderr is found and stripped exactly. */
import { describe, expect, it } from 'vitest';
import { splitPidMark } from '../../../src/transport/ssh.js';

describe('splitPidMark', () => {
  it('finds the PID and strips only its line', () => {
    expect(splitPidMark('__fleetplay_pid=123\nreal error\n')).toEqual({ pid: 123, rest: 'real error\n' });
    expect(splitPidMark('__fleetplay_pid=7\n')).toEqual({ pid: 7, rest: '' });
  });

  it('finds it after noise a login shell printed first', () => {
    expect(splitPidMark('bashrc says hi\n__fleetplay_pid=42\nboom\n')).toEqual({ pid: 42, rest: 'bashrc says hi\nboom\n' });
  });

  it('waits for the whole line and leaves other stderr alone', () => {
    expect(splitPidMark('__fleetplay_pid=12')).toEqual({ pid: null, rest: '__fleetplay_pid=12' });
    expect(splitPidMark('plain error\n')).toEqual({ pid: null, rest: 'plain error\n' });
    expect(splitPidMark('x__fleetplay_pid=5\n')).toEqual({ pid: null, rest: 'x__fleetplay_pid=5\n' });
  });
});
