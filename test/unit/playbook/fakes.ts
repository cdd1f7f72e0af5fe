/**
 * Test-only task modules, so the playbook tests do not depend on the real registry: a `copy`-like
 * module and a `command` module with a free-form `cmd`. Their plans are never run here.
 */
import { z } from 'zod';
import { defineTask, noChange } from '../../../src/tasks/types.js';
import type { TaskModule } from '../../../src/tasks/types.js';

export const fakeCopy = defineTask({
  name: 'copy',
  args: z.strictObject({ content: z.string().optional(), src: z.string().optional(), dest: z.string(), mode: z.string().optional(), country: z.string().optional(), backup: z.boolean().optional() }),
  plan: async () => noChange('fake'),
});

export const fakeCommand = defineTask({
  name: 'command',
  aliases: ['shell'],
  freeForm: 'cmd',
  args: z.strictObject({ cmd: z.string(), chdir: z.string().optional(), creates: z.string().optional() }),
  plan: async () => noChange('fake'),
});

const ALL: TaskModule[] = [fakeCopy, fakeCommand];

export function fakeFindTask(name: string): TaskModule | undefined {
  return ALL.find((t) => t.name === name || t.aliases.includes(name));
}

export function fakeTaskNames(): string[] {
  return ALL.flatMap((t) => [t.name, ...t.aliases]).sort();
}

export const fakeRegistry = { findTask: fakeFindTask, taskNames: fakeTaskNames };
