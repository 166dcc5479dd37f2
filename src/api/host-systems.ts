// GET /host_systems, POST /host_systems: the machines benchmarks run on (README format).
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import { insertHostSystem, listHostSystems } from '../storage/host-systems.js';
import { API_BODY_LIMIT, BODY_ERRORS, PG_INT_MAX, QUERY_ERRORS, Text } from './schemas.js';

const Count = (description: string) => Type.Integer({ minimum: 0, maximum: PG_INT_MAX, description });

const NewHostSystem = Type.Object(
  {
    description: Text('Any notes'),
    os: Text('e.g. `freebsd`'),
    cpu_qty: Count('Number of CPUs'),
    cpu_clock: Count('CPU clock, MHz'),
    ram_mb: Count('RAM, MiB'),
    disk_info: Text('e.g. `NVME`'),
  },
  { title: 'NewHostSystem', examples: [{ cpu_clock: 2600, cpu_qty: 4, description: 'Any notes to go here', disk_info: 'NVME', os: 'freebsd', ram_mb: 8192 }] },
);

const HostSystem = Type.Object(
  { id: Type.Integer(), description: Type.String(), os: Type.String(), cpu_qty: Type.Integer(), cpu_clock: Type.Integer(), ram_mb: Type.Integer(), disk_info: Type.String() },
  { title: 'HostSystem' },
);

export function registerHostSystemRoutes(app: FastifyInstance, { run, write }: ApiContext): void {
  app.get(
    '/host_systems',
    { schema: { tags: ['benchmarks'], summary: 'List host systems (by id)', response: { 200: Type.Array(HostSystem), ...QUERY_ERRORS } } },
    async () => run((db) => listHostSystems(db)),
  );

  app.post<{ Body: Static<typeof NewHostSystem> }>(
    '/host_systems',
    {
      bodyLimit: API_BODY_LIMIT,
      schema: {
        tags: ['benchmarks'],
        summary: 'Create a host system; returns it with its new id',
        body: NewHostSystem,
        response: { 200: HostSystem, ...QUERY_ERRORS, ...BODY_ERRORS },
      },
    },
    async (request) => write((db) => insertHostSystem(db, request.body)),
  );
}
