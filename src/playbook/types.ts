/**
 * The typed shape of a loaded playbook. Everything here is plain data produced by `loadPlaybook`
 * and read by the validator and the runner; positions point back into the YAML so that every
 * later error can say file:line:col and quote the line.
 */

/** A position in a YAML file, 1-based; `text` is the whole source line (for the caret). */
export interface Loc {
  file: string;
  line: number;
  col: number;
  text: string;
}

export interface TaskSpec {
  name: string;
  /** Canonical module name (aliases and `ansible.builtin.` prefixes resolved). */
  module: string;
  /** Raw args, may contain templates. */
  args: unknown;
  when?: string;
  loop?: unknown;
  /** Loop variable name: 'item' unless `loop_control.loop_var` says otherwise. */
  loopVar: string;
  register?: string;
  tags: string[];
  notify: string[];
  changedWhen?: string;
  failedWhen?: string;
  delegateTo?: string;
  runOnce: boolean;
  noLog: boolean;
  ignoreErrors: boolean;
  become?: boolean;
  becomeUser?: string;
  vars: Record<string, unknown>;
  loc: Loc;
  /** Dotted arg path → position of its value; '' is the module key itself. */
  argLocs: Map<string, Loc>;
  /** Task keyword (`when`, `notify`, `register`, ...) → position of its value. */
  keyLocs?: Map<string, Loc>;
}

export interface PlaySpec {
  name: string;
  hosts: string;
  vars: Record<string, unknown>;
  become?: boolean;
  becomeUser?: string;
  /** [] = all hosts at once; numbers or percentages like '20%'. */
  serial: Array<number | string>;
  maxFailPercentage?: number;
  anyErrorsFatal: boolean;
  strategy: 'linear' | 'free';
  /** Default 'rollback': a failed host is put back to where it was. */
  onFailure: 'rollback' | 'stop' | 'continue';
  tasks: TaskSpec[];
  handlers: TaskSpec[];
  tags: string[];
  loc: Loc;
  /** Play keyword (`hosts`, `vars`, ...) → position of its value. */
  keyLocs?: Map<string, Loc>;
}

export interface Playbook {
  file: string;
  plays: PlaySpec[];
}
