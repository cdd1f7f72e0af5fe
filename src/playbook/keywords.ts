/**
 * The play and task keywords fleetplay understands, and the Ansible ones it deliberately does
 * not (each with the reason shown to the user), so an unsupported feature is a clear error instead
 * of an "unknown module".
 */

export const PLAY_KEYS = [
  'name',
  'hosts',
  'vars',
  'become',
  'become_user',
  'serial',
  'max_fail_percentage',
  'any_errors_fatal',
  'strategy',
  'on_failure',
  'tasks',
  'handlers',
  'tags',
  'gather_facts',
] as const;

export const TASK_KEYS = [
  'name',
  'when',
  'loop',
  'with_items',
  'loop_control',
  'register',
  'tags',
  'notify',
  'changed_when',
  'failed_when',
  'delegate_to',
  'run_once',
  'no_log',
  'ignore_errors',
  'become',
  'become_user',
  'vars',
  'args',
] as const;

const FLAT = 'write the tasks as a flat list in the play';

export const UNSUPPORTED_PLAY_KEYS: Record<string, string> = {
  roles: 'roles are not supported; put the tasks in the play (fleetplay playbooks are one file per procedure)',
  pre_tasks: 'pre_tasks are not supported; put them at the start of "tasks:"',
  post_tasks: 'post_tasks are not supported; put them at the end of "tasks:" or in a following play',
  import_playbook: 'import_playbook is not supported; run the playbooks one after the other',
  include_playbook: 'include_playbook is not supported; run the playbooks one after the other',
  vars_files: 'vars_files is not supported; put the vars in the play\'s "vars:" or in group_vars/host_vars beside the inventory',
  vars_prompt: 'vars_prompt is not supported; pass values with -e name=value',
  environment: 'environment is not supported at play level',
  remote_user: 'remote_user is not supported in plays; set ansible_user in the inventory',
  collections: 'collections are not supported; fleetplay has its own task modules',
  module_defaults: 'module_defaults is not supported; repeat the args on each task',
  order: 'order is not supported; hosts run in inventory order',
  check_mode: 'check_mode is not a play key; use "fleetplay check" for a dry run',
};

export const UNSUPPORTED_TASK_KEYS: Record<string, string> = {
  block: `block/rescue/always are not supported; ${FLAT} and use the play's on_failure for error handling`,
  rescue: `block/rescue/always are not supported; use the play's on_failure (rollback, stop, continue)`,
  always: `block/rescue/always are not supported; use the play's on_failure (rollback, stop, continue)`,
  include_tasks: `include_tasks is not supported; ${FLAT}`,
  import_tasks: `import_tasks is not supported; ${FLAT}`,
  include_role: `roles are not supported; ${FLAT}`,
  import_role: `roles are not supported; ${FLAT}`,
  include: `include is not supported; ${FLAT}`,
  include_vars: 'include_vars is not supported; put the vars in the play or in group_vars/host_vars',
  with_dict: 'with_dict is not supported; use loop: "{{ mydict | dict2items }}"',
  with_fileglob: 'with_fileglob is not supported; list the files with loop:',
  with_together: 'with_together is not supported; use loop:',
  with_nested: 'with_nested is not supported; use loop:',
  until: 'until/retries/delay are not supported',
  retries: 'until/retries/delay are not supported',
  delay: 'until/retries/delay are not supported',
  async: 'async/poll are not supported; every task runs to completion',
  poll: 'async/poll are not supported; every task runs to completion',
  environment: 'environment is not supported; pass an env: argument where the module has one',
  local_action: 'local_action is not supported; use delegate_to: localhost',
  action: 'action is not supported; write the module name as the key',
  listen: 'listen is not supported; notify the handler by its name',
  check_mode: 'check_mode on a task is not supported; use "fleetplay check" for the whole run',
  diff: 'diff on a task is not supported; check mode always shows diffs',
};

/** Prefixes that name Ansible collections; stripped to find our module of the same name. */
export const MODULE_PREFIXES = ['ansible.builtin.', 'ansible.posix.', 'community.general.', 'community.crypto.', 'community.postgresql.'];
