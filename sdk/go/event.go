package causality

import (
	"time"
)

// Event is one behavioral event before it is queued. Type and Properties follow the
// catalogue in EVENTS.md; the typed constructors below fill them for the common types.
// Empty envelope fields are filled by Track: DeviceID from the client, IdempotencyKey with a
// fresh UUIDv4, Timestamp with the time of the call. Track encodes the event immediately, so
// the caller may reuse or change Properties as soon as Track returns.
type Event struct {
	Type           string
	DeviceID       string
	UserID         string
	SessionID      string
	CorrelationID  string
	IdempotencyKey string
	Timestamp      time.Time
	// DeviceContext replaces the client's device context for this event when set.
	DeviceContext *DeviceContext
	Properties    map[string]any
}

// DeviceContext holds the envelope's device_context. It is a struct rather than a map
// because the gateway rejects every event whose device_context has an unknown key: a typo
// must fail to compile, not lose events at runtime. Zero values are omitted.
type DeviceContext struct {
	Platform     string `json:"platform,omitempty"` // ios, android, web, server
	OSVersion    string `json:"os_version,omitempty"`
	AppVersion   string `json:"app_version,omitempty"`
	BuildNumber  string `json:"build_number,omitempty"`
	DeviceModel  string `json:"device_model,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	ScreenWidth  int    `json:"screen_width,omitempty"`
	ScreenHeight int    `json:"screen_height,omitempty"`
	Locale       string `json:"locale,omitempty"`
	Timezone     string `json:"timezone,omitempty"`
	NetworkType  string `json:"network_type,omitempty"`
	Carrier      string `json:"carrier,omitempty"`
	IsJailbroken *bool  `json:"is_jailbroken,omitempty"`
	IsEmulator   *bool  `json:"is_emulator,omitempty"`
	SDKVersion   string `json:"sdk_version,omitempty"`
}

// Point is a screen position (button_tap coordinates).
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// ScreenView is a screen (or page) being shown. Params holds screen parameters (for web
// pages: url, path, title, referrer, utm_*).
type ScreenView struct {
	ScreenName     string
	ScreenClass    string
	PreviousScreen string
	Params         map[string]string
}

// Event builds the screen_view event.
func (p ScreenView) Event() Event {
	props := map[string]any{}
	setString(props, "screen_name", p.ScreenName)
	setString(props, "screen_class", p.ScreenClass)
	setString(props, "previous_screen", p.PreviousScreen)
	if len(p.Params) > 0 {
		props["params"] = p.Params
	}
	return Event{Type: "screen_view", Properties: props}
}

// ButtonTap is a button tapped or clicked.
type ButtonTap struct {
	ButtonID    string
	ButtonText  string
	ScreenName  string
	Coordinates *Point
}

// Event builds the button_tap event.
func (p ButtonTap) Event() Event {
	props := map[string]any{}
	setString(props, "button_id", p.ButtonID)
	setString(props, "button_text", p.ButtonText)
	setString(props, "screen_name", p.ScreenName)
	if p.Coordinates != nil {
		props["coordinates"] = *p.Coordinates
	}
	return Event{Type: "button_tap", Properties: props}
}

// AddToCart is a product put in a cart. Money is integer cents plus an ISO-4217 code
// (upper case, e.g. "EUR"); zero Quantity and PriceCents are omitted.
type AddToCart struct {
	ProductID   string
	ProductName string
	Quantity    int64
	PriceCents  int64
	Currency    string
	CartID      string
}

// Event builds the add_to_cart event.
func (p AddToCart) Event() Event {
	props := map[string]any{"product_id": p.ProductID}
	setString(props, "product_name", p.ProductName)
	setInt(props, "quantity", p.Quantity)
	setInt(props, "price_cents", p.PriceCents)
	setString(props, "currency", p.Currency)
	setString(props, "cart_id", p.CartID)
	return Event{Type: "add_to_cart", Properties: props}
}

// PurchaseItem is one line of a purchase.
type PurchaseItem struct {
	ProductID   string `json:"product_id"`
	ProductName string `json:"product_name,omitempty"`
	Quantity    int64  `json:"quantity,omitempty"`
	PriceCents  int64  `json:"price_cents,omitempty"`
}

// PurchaseComplete is a completed order; OrderID is required by the gateway.
type PurchaseComplete struct {
	OrderID       string
	CartID        string
	ItemCount     int64
	TotalCents    int64
	Currency      string
	PaymentMethod string
	Items         []PurchaseItem
}

// Event builds the purchase_complete event.
func (p PurchaseComplete) Event() Event {
	props := map[string]any{"order_id": p.OrderID}
	setString(props, "cart_id", p.CartID)
	setInt(props, "item_count", p.ItemCount)
	setInt(props, "total_cents", p.TotalCents)
	setString(props, "currency", p.Currency)
	setString(props, "payment_method", p.PaymentMethod)
	if len(p.Items) > 0 {
		props["items"] = p.Items
	}
	return Event{Type: "purchase_complete", Properties: props}
}

// AppCrash is a crash (for a backend: a recovered panic, say).
type AppCrash struct {
	CrashType     string
	CrashMessage  string
	StackTrace    string
	CurrentScreen string
}

// Event builds the app_crash event.
func (p AppCrash) Event() Event {
	props := map[string]any{}
	setString(props, "crash_type", p.CrashType)
	setString(props, "crash_message", p.CrashMessage)
	setString(props, "stack_trace", p.StackTrace)
	setString(props, "current_screen", p.CurrentScreen)
	return Event{Type: "app_crash", Properties: props}
}

// Custom builds a custom event. Its properties must be strings, numbers, booleans, nil or
// flat slices of them (the gateway rejects nested objects in custom events).
func Custom(name string, properties map[string]any) Event {
	props := make(map[string]any, len(properties)+1)
	for k, v := range properties {
		props[k] = v
	}
	props["event_name"] = name
	return Event{Type: "custom", Properties: props}
}

func setString(m map[string]any, key, value string) {
	if value != "" {
		m[key] = value
	}
}

func setInt(m map[string]any, key string, value int64) {
	if value != 0 {
		m[key] = value
	}
}
