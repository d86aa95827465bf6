"""Fake but plausible crash reports, one family per platform.

Each platform has a handful of distinct crash signatures, so crash grouping by
``crash_type``/top frame shows a few big buckets rather than noise.
"""

from __future__ import annotations

import random
from typing import Any

_IOS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "EXC_BAD_ACCESS",
        "KERN_INVALID_ADDRESS at 0x0000000000000010",
        (
            "0   libobjc.A.dylib  objc_msgSend + 16",
            "1   CausalityShop  ImageCache.store(_:for:) (ImageCache.swift:88)",
            "2   CausalityShop  ProductGalleryView.didLoad(_:) (ProductGalleryView.swift:141)",
            "3   libdispatch.dylib  _dispatch_call_block_and_release + 32",
            "4   UIKitCore  UIApplicationMain + 340",
        ),
    ),
    (
        "NSInvalidArgumentException",
        "*** -[__NSDictionaryM setObject:forKey:]: object cannot be nil (key: price)",
        (
            "0   CoreFoundation  __exceptionPreprocess + 164",
            "1   libobjc.A.dylib  objc_exception_throw + 60",
            "2   CausalityShop  CartStore.update(item:) (CartStore.swift:57)",
            "3   CausalityShop  CartViewController.apply(coupon:) (CartViewController.swift:203)",
        ),
    ),
)

_ANDROID: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "java.lang.NullPointerException",
        "Attempt to invoke virtual method 'int java.util.List.size()' on a null object reference",
        (
            "at dev.causality.shop.cart.CartAdapter.getItemCount(CartAdapter.kt:42)",
            "at androidx.recyclerview.widget.RecyclerView.onLayout(RecyclerView.java:4578)",
            "at dev.causality.shop.checkout.CheckoutFragment.onResume(CheckoutFragment.kt:118)",
            "at android.app.Activity.performResume(Activity.java:8837)",
        ),
    ),
    (
        "java.lang.OutOfMemoryError",
        "Failed to allocate a 31961104 byte allocation with 8388608 free bytes",
        (
            "at android.graphics.BitmapFactory.nativeDecodeStream(Native Method)",
            "at dev.causality.shop.media.GalleryLoader.decode(GalleryLoader.kt:77)",
            "at dev.causality.shop.product.ProductActivity.onCreate(ProductActivity.kt:64)",
        ),
    ),
    (
        "ANR",
        "Input dispatching timed out (Waiting to send non-key event)",
        (
            "at dev.causality.shop.search.SearchIndex.loadSync(SearchIndex.kt:201)",
            "at dev.causality.shop.search.SearchActivity.onCreate(SearchActivity.kt:39)",
        ),
    ),
)

_WEB: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "TypeError",
        "Cannot read properties of undefined (reading 'variants')",
        (
            "at ProductPage.render (https://shop.causality.dev/assets/product.8c1f2e7.js:1:20417)",
            "at renderWithHooks (https://shop.causality.dev/assets/vendor.4b2a9d1.js:2:88412)",
        ),
    ),
    (
        "ChunkLoadError",
        "Loading chunk 412 failed.",
        ("at __webpack_require__.f.j (https://shop.causality.dev/assets/runtime.js:1:3301)",),
    ),
)

_SERVER: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "asyncpg.exceptions.TooManyConnectionsError",
        "sorry, too many clients already",
        (
            'File "/app/shop/db.py", line 41, in acquire',
            'File "/app/shop/orders.py", line 118, in create_order',
            'File "/app/shop/api/checkout.py", line 77, in place_order',
        ),
    ),
    (
        "KeyError",
        "'shipping_address'",
        (
            'File "/app/shop/api/checkout.py", line 52, in quote_shipping',
            'File "/app/shop/shipping/rates.py", line 23, in rate_for',
        ),
    ),
)

_FAMILIES = {"ios": _IOS, "android": _ANDROID, "web": _WEB, "server": _SERVER}


def fake_crash(*, rng: random.Random, platform: str, screen: str) -> dict[str, Any]:
    """An ``app_crash`` payload for ``platform``; ``screen`` is where it happened."""
    crash_type, message, frames = rng.choice(_FAMILIES[platform])
    if platform == "server":
        trace = "Traceback (most recent call last):\n  " + "\n  ".join(frames)
        trace += f"\n{crash_type}: {message}"
    else:
        trace = f"{crash_type}: {message}\n    " + "\n    ".join(frames)
    return {
        "crash_type": crash_type,
        "crash_message": message,
        "stack_trace": trace,
        "current_screen": screen,
    }
