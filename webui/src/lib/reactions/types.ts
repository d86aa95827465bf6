/**
 * The admin API's reaction objects as the gateway returns them (docs/reactions.md,
 * causality/store/{rules,detectors,webhooks,alerts,deliveries}.py). Kept in one module so the
 * tabs and the tests agree on field names.
 */

export interface Page<T> {
  readonly items: readonly T[];
  readonly total: number;
  readonly limit: number;
  readonly offset: number;
}

export interface Scope {
  readonly app_id: string | null;
  readonly event_category: string | null;
  readonly event_type: string | null;
}

export interface Rule extends Scope {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly condition: unknown;
  readonly priority: number;
  readonly enabled: boolean;
  readonly publish_alert: boolean;
  readonly webhook_ids: readonly string[];
  readonly created_by: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface RuleInput extends Scope {
  readonly name: string;
  readonly description: string;
  readonly condition: unknown;
  readonly priority: number;
  readonly enabled: boolean;
  readonly publish_alert: boolean;
  readonly webhook_ids: readonly string[];
}

export const DETECTOR_KINDS = ["threshold", "rate", "count", "baseline"] as const;
export type DetectorKind = (typeof DETECTOR_KINDS)[number];

export interface Detector extends Scope {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly kind: DetectorKind;
  readonly condition: unknown;
  readonly params: Readonly<Record<string, unknown>>;
  readonly cooldown_s: number;
  readonly enabled: boolean;
  readonly publish_alert: boolean;
  readonly webhook_ids: readonly string[];
  readonly created_at: string;
  readonly updated_at: string;
}

export interface DetectorInput extends Scope {
  readonly name: string;
  readonly description: string;
  readonly kind: DetectorKind;
  readonly condition: unknown;
  readonly params: Record<string, unknown>;
  readonly cooldown_s: number;
  readonly enabled: boolean;
  readonly publish_alert: boolean;
  readonly webhook_ids: readonly string[];
}

export const AUTH_TYPES = ["none", "basic", "bearer", "hmac"] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

export interface Webhook {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly auth_type: AuthType;
  readonly auth_username: string | null;
  readonly has_secret: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly enabled: boolean;
  readonly max_attempts: number;
  readonly timeout_s: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface WebhookTestResult {
  readonly delivery_id: string;
  readonly ok: boolean;
  readonly status_code: number | null;
  readonly error: string | null;
  readonly duration_ms: number;
}

export interface Alert {
  readonly id: string;
  readonly source: "rule" | "anomaly";
  readonly rule_id: string | null;
  readonly detector_id: string | null;
  readonly name: string;
  readonly app_id: string | null;
  readonly event_id: string | null;
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly created_at: string;
}

export const DELIVERY_STATUSES = ["pending", "delivered", "dead_letter"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface Delivery {
  readonly id: string;
  readonly alert_id: string | null;
  readonly app_id: string | null;
  readonly webhook_id: string | null;
  readonly webhook_name: string | null;
  readonly subject: string | null;
  readonly kind: "alert" | "test" | string;
  readonly status: DeliveryStatus;
  readonly priority: number;
  readonly attempts: number;
  readonly max_attempts: number;
  readonly next_attempt_at: string;
  readonly last_status: number | null;
  readonly last_error: string | null;
  readonly created_at: string;
  readonly delivered_at: string | null;
  readonly updated_at: string;
}

export interface Attempt {
  readonly attempt: number;
  readonly status_code: number | null;
  readonly error: string | null;
  readonly duration_ms: number;
  readonly attempted_at: string;
}

export interface DeliveryDetail {
  readonly delivery: Delivery;
  readonly payload: unknown;
  readonly attempts: readonly Attempt[];
}

/** A node of the rule test's trace (causality.reactions.conditions.explain_condition). */
export type TraceNode =
  | {
      readonly op: "all" | "any" | "not";
      readonly matched: boolean;
      readonly children: readonly TraceNode[];
    }
  | { readonly op: "always"; readonly matched: boolean }
  | {
      readonly field: string;
      readonly op: string;
      readonly value?: unknown;
      readonly actual?: unknown;
      readonly missing?: boolean;
      readonly matched: boolean;
    };

export interface RuleTestResult {
  readonly matched: boolean;
  readonly scope_matched: boolean;
  readonly enabled: boolean;
  readonly condition: TraceNode;
  readonly actions: {
    readonly webhook_ids: readonly string[];
    readonly publish_alert: boolean;
    readonly subject: string | null;
    readonly summary: string;
  };
  readonly event: Readonly<Record<string, unknown>>;
}

/** The event catalogue's categories and types (causality/events/catalogue.py). */
export const CATALOGUE: Readonly<Record<string, readonly string[]>> = {
  user: ["login", "logout", "signup", "profile_update"],
  screen: ["screen_view", "screen_exit"],
  interaction: ["button_tap", "swipe", "scroll", "text_input", "long_press", "double_tap"],
  commerce: [
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout_start",
    "checkout_step",
    "purchase_complete",
    "purchase_failed",
  ],
  system: [
    "app_start",
    "app_background",
    "app_foreground",
    "app_crash",
    "network_change",
    "permission_request",
    "permission_result",
    "memory_warning",
    "battery_change",
  ],
  custom: ["custom"],
};

export const CATEGORIES: readonly string[] = Object.keys(CATALOGUE);

/** The event types a scope's category allows (every type when no category is chosen). */
export function typesFor(category: string | null): readonly string[] {
  if (category && CATALOGUE[category]) return CATALOGUE[category] ?? [];
  return Object.values(CATALOGUE).flat();
}

/** The category an event type belongs to, if it is a catalogue type. */
export function categoryOf(eventType: string): string | undefined {
  return CATEGORIES.find((c) => (CATALOGUE[c] ?? []).includes(eventType));
}
