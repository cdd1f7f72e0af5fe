/**
 * The inventory as data: hosts with their merged variables, groups with their members. Built by
 * `loadInventory` from Ansible's YAML inventory format; read by host patterns, the validator and
 * the runner.
 */

export interface InventoryHost {
  name: string;
  /** Groups the host belongs to, directly or through children, excluding `all` and `ungrouped`. */
  groups: string[];
  /** Merged vars: all < parent group < child group < host. */
  vars: Record<string, unknown>;
}

export interface InventoryGroup {
  name: string;
  /** Direct members and members via children, in inventory order. */
  hosts: string[];
  /** Direct child groups. */
  children: string[];
  /** The group's own vars (inline and group_vars files), not merged with parents. */
  vars: Record<string, unknown>;
}

export interface Inventory {
  file: string;
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
}
