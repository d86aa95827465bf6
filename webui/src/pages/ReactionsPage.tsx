// Reactions: rules, anomaly detectors, webhooks, and the alert and delivery history. The tab
// lives in the URL (?tab=webhooks) so a link or a reload lands on the same tab. Viewers get
// the lists and history; the write actions appear for editors and admins only.

import type { ReactNode } from "react";
import { useSearchParams } from "react-router";

import { PageHeader } from "../components/PageHeader";
import { Tabs, type TabItem } from "../components/Tabs";
import { DetectorsTab } from "../components/reactions/DetectorsTab";
import { AlertsTab, DeliveriesTab } from "../components/reactions/HistoryTabs";
import { RulesTab } from "../components/reactions/RulesTab";
import { WebhooksTab } from "../components/reactions/WebhooksTab";
import "../components/reactions/reactions.css";

type TabId = "rules" | "detectors" | "webhooks" | "alerts" | "deliveries";

const TABS: readonly TabItem<TabId>[] = [
  { id: "rules", label: "Rules" },
  { id: "detectors", label: "Detectors" },
  { id: "webhooks", label: "Webhooks" },
  { id: "alerts", label: "Alerts" },
  { id: "deliveries", label: "Deliveries" },
];

function isTab(value: string | null): value is TabId {
  return TABS.some((t) => t.id === value);
}

export default function ReactionsPage(): ReactNode {
  const [params, setParams] = useSearchParams();
  const raw = params.get("tab");
  const tab: TabId = isTab(raw) ? raw : "rules";
  return (
    <>
      <PageHeader
        title="Reactions"
        description="Rules and anomaly detectors that react to events as they arrive, the webhooks they deliver to, and what fired."
      />
      <Tabs
        tabs={TABS}
        value={tab}
        label="Reactions sections"
        onChange={(id) => setParams(id === "rules" ? {} : { tab: id }, { replace: true })}
      >
        {tab === "rules" && <RulesTab />}
        {tab === "detectors" && <DetectorsTab />}
        {tab === "webhooks" && <WebhooksTab />}
        {tab === "alerts" && <AlertsTab />}
        {tab === "deliveries" && <DeliveriesTab />}
      </Tabs>
    </>
  );
}
