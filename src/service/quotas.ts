// The quotas of a virtual router, named and documented once (no imports: the command line reads
// the names at start-up without loading the operations' schemas, src/service/api.ts, which
// declares them as the `Quotas` schema from this table).
export const QUOTA_DOCS = {
  routes: 'routes in all its FIB tables (IPLookup, LookupIP6Route): a route request beyond it is refused, nothing changed',
  nat: "NAT mappings: the sum of its IPRewriters' capacity (a new flow beyond a full table is dropped and counted in drops_table_full)",
  neighbours: "ARP and ND entries: the sum of its ARPQueriers' and IP6NDSolicitors' entryCapacity (a new address beyond is dropped and counted in drops_table_full)",
  buffers:
    "packet buffers its graph may hold: the sum of its queues' capacities (Queue, CoDel, FQCoDel, HTBSched leaves, those added at run time included, LinkEmulator), its ports' ingress rings and class queues (FromPort, ToPort), what ARPQuerier and IP6NDSolicitor hold while resolving, the fragments IPReassembler holds (maxFragments) and what schedulers and shapers pull ahead (DRRSched, WFQSched, BandwidthShaper, BandwidthRatedUnqueue)",
} as const;
export type QuotaName = keyof typeof QUOTA_DOCS;
export const QUOTA_NAMES = Object.keys(QUOTA_DOCS) as QuotaName[];
