/** The catalogued event types of shared/EVENTS.md; `track` sends these typed, anything else
 * as `custom`. tests/unit/test_web_sdk_catalogue.py keeps this list equal to the gateway's. */
export const CATALOGUE: ReadonlySet<string> = new Set(
  (
    "login logout signup profile_update screen_view screen_exit button_tap swipe scroll " +
    "text_input long_press double_tap product_view add_to_cart remove_from_cart " +
    "checkout_start checkout_step purchase_complete purchase_failed app_start app_background " +
    "app_foreground app_crash network_change permission_request permission_result " +
    "memory_warning battery_change"
  ).split(" "),
);
