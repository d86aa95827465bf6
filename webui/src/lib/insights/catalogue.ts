/**
 * What the insight forms offer in their pickers: the catalogued event types (EVENTS.md,
 * causality/events/catalogue.py) and the filterable warehouse columns with their kinds.
 * The kinds matter: the gateway refuses a text literal for a number column and vice versa,
 * so a typed value is converted according to the property it filters.
 */

export const EVENT_TYPES: readonly string[] = [
  "login",
  "logout",
  "signup",
  "profile_update",
  "screen_view",
  "screen_exit",
  "button_tap",
  "swipe",
  "scroll",
  "text_input",
  "long_press",
  "double_tap",
  "product_view",
  "add_to_cart",
  "remove_from_cart",
  "checkout_start",
  "checkout_step",
  "purchase_complete",
  "purchase_failed",
  "app_start",
  "app_background",
  "app_foreground",
  "app_crash",
  "network_change",
  "permission_request",
  "permission_result",
  "memory_warning",
  "battery_change",
  "custom",
];

export type ColumnKind = "string" | "number" | "bool";

/** Warehouse columns a filter or breakdown may name (timestamps and `properties` excluded). */
export const COLUMN_KINDS: Readonly<Record<string, ColumnKind>> = {
  id: "string",
  idempotency_key: "string",
  app_id: "string",
  device_id: "string",
  user_id: "string",
  session_id: "string",
  event_category: "string",
  event_type: "string",
  event_name: "string",
  correlation_id: "string",
  platform: "string",
  os_version: "string",
  app_version: "string",
  build_number: "string",
  device_model: "string",
  manufacturer: "string",
  screen_width: "number",
  screen_height: "number",
  locale: "string",
  timezone: "string",
  network_type: "string",
  carrier: "string",
  is_jailbroken: "bool",
  is_emulator: "bool",
  sdk_version: "string",
};

/** Suggestions for property inputs: the columns, then common JSON property paths. */
export const PROPERTY_SUGGESTIONS: readonly string[] = [
  ...Object.keys(COLUMN_KINDS),
  "properties.screen_name",
  "properties.price_cents",
  "properties.currency",
  "properties.product_id",
];

/** The kind of a property: a known column's, "json" for `properties.<path>`, null otherwise. */
export function propertyKind(name: string): ColumnKind | "json" | null {
  if (name.startsWith("properties.")) return "json";
  return COLUMN_KINDS[name] ?? null;
}
