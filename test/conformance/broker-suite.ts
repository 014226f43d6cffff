// The broker conformance suite: every semantic of SPEC.md, run against any broker URL. Each broker's
// test file calls runBrokerConformance with a factory of fresh URLs; a broker that cannot do something
// skips that case by its exact name, with the reason written down. Nothing here knows any broker's
// internals: cases use only the Broker contract (connectBroker) and the public Celeriac API.
import { describe } from 'node:test';
import { appBasicCases } from './suite/app-basics.js';
import { appFailureCases } from './suite/app-failures.js';
import { appObservabilityCases } from './suite/app-observability.js';
import { brokerHandoffCases } from './suite/broker-handoff.js';
import { brokerLeasingCases } from './suite/broker-leasing.js';
import { brokerMaintenanceCases } from './suite/broker-maintenance.js';
import { brokerRegistryEventCases } from './suite/broker-registry-events.js';
import { brokerSettlingCases } from './suite/broker-settling.js';
import { Cases, type ConformanceTarget } from './suite/world.js';

export type { ConformanceTarget } from './suite/world.js';

/**
 * Registers the conformance cases for one broker.
 * @example
 * runBrokerConformance({
 *   name: 'sqlite',
 *   newUrl: async () => { const dir = tempDir(); return { url: `sqlite:${dir.path}/broker.db`, cleanup: dir.cleanup }; },
 * });
 */
export function runBrokerConformance(target: ConformanceTarget): void {
  const cases = new Cases(target);
  describe(`${target.name} broker conformance`, () => {
    describe('broker contract', () => {
      brokerLeasingCases(cases);
      brokerSettlingCases(cases);
      brokerMaintenanceCases(cases);
      brokerRegistryEventCases(cases);
      brokerHandoffCases(cases);
    });
    describe('app and worker on the broker', () => {
      appBasicCases(cases);
      appFailureCases(cases);
      appObservabilityCases(cases);
    });
  });
  cases.assertSkipsKnown();
}
