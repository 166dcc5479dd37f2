// The 5-minute PostgreSQL outage with 200 nodes and the disk spool (slow: npm run test:chaos).
// SPOOL_OUTAGE_S / SPOOL_OUTAGE_NODES override; the short run is test/integration/spool-outage.test.ts.
process.env.SPOOL_OUTAGE_S ??= '300';
process.env.SPOOL_OUTAGE_NODES ??= '200';
await import('../integration/spool-outage.test.js');
