/**
 * The Community ID as the reference computes it: PyPI's `communityid`
 * (corelight's pycommunityid), in the Python that scripts/communityid.sh
 * installs and scripts/test.sh names in CTLOGD_COMMUNITYID_PYTHON. One
 * Python run for a whole list of flows: JSON in, JSON out.
 */
import { execFileSync } from 'node:child_process';

/** One flow as the reference takes it; for ICMP and ICMPv6 the ports are the type and the code. */
export interface Flow {
  saddr: string;
  daddr: string;
  proto: number;
  sport?: number;
  dport?: number;
  seed?: number;
}

// Ports go in for the protocols the library hashes them for (its own
// PORT_PROTOS: TCP, UDP, SCTP, ICMP, ICMPv6); the others are address-only
// tuples, as the spec says.
const SCRIPT = `
import json, sys
import communityid
out = []
for f in json.load(sys.stdin):
    if f['proto'] in communityid.PORT_PROTOS:
        t = communityid.FlowTuple(f['proto'], f['saddr'], f['daddr'], f['sport'], f['dport'])
    else:
        t = communityid.FlowTuple(f['proto'], f['saddr'], f['daddr'])
    out.append(communityid.CommunityID(seed=f.get('seed', 0)).calc(t))
json.dump(out, sys.stdout)
`;

/** The Python with `communityid`, or an Error of one line saying how to get it. */
export function referencePython(): string {
  const python = process.env.CTLOGD_COMMUNITYID_PYTHON;
  if (!python) {
    throw new Error(
      'CTLOGD_COMMUNITYID_PYTHON is not set: these tests need PyPI package communityid; run `export CTLOGD_COMMUNITYID_PYTHON=$(scripts/communityid.sh)` (scripts/test.sh does)',
    );
  }
  try {
    execFileSync(python, ['-c', 'import communityid'], { stdio: 'ignore' });
  } catch {
    throw new Error(`CTLOGD_COMMUNITYID_PYTHON=${python} cannot import communityid (PyPI package communityid): run scripts/communityid.sh`);
  }
  return python;
}

/** The reference's Community ID of each flow, in order. */
export function referenceIds(flows: Flow[]): string[] {
  const out = execFileSync(referencePython(), ['-c', SCRIPT], { input: JSON.stringify(flows), encoding: 'utf8' });
  const ids = JSON.parse(out) as string[];
  if (ids.length !== flows.length) throw new Error(`communityid answered ${ids.length} ids for ${flows.length} flows`);
  return ids;
}
