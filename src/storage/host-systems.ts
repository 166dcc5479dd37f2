// Reads and writes of host_systems (the machines benchmarks run on).
import type { Queryable } from './database.js';

export interface HostSystemRow {
  id: number;
  description: string;
  os: string;
  cpu_qty: number;
  cpu_clock: number;
  ram_mb: number;
  disk_info: string;
}

export type NewHostSystem = Omit<HostSystemRow, 'id'>;

const COLUMNS = 'id, description, os, cpu_qty, cpu_clock, ram_mb, disk_info';

export async function listHostSystems(db: Queryable): Promise<HostSystemRow[]> {
  return (await db.query<HostSystemRow>(`SELECT ${COLUMNS} FROM host_systems ORDER BY id`)).rows;
}

export async function insertHostSystem(db: Queryable, h: NewHostSystem): Promise<HostSystemRow> {
  return (
    await db.query<HostSystemRow>(
      `INSERT INTO host_systems (description, os, cpu_qty, cpu_clock, ram_mb, disk_info) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [h.description, h.os, h.cpu_qty, h.cpu_clock, h.ram_mb, h.disk_info],
    )
  ).rows[0];
}
