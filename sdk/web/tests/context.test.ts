import { describe, expect, it } from "vitest";
import { osVersion, pageParams, screenName } from "../src/context";

describe("pageParams", () => {
  it("captures url, path, title, referrer and every UTM tag", () => {
    const href =
      "https://shop.example/landing?utm_source=news&utm_medium=email&utm_campaign=launch" +
      "&utm_term=shoes&utm_content=hero&x=1";
    expect(pageParams(href, "Landing", "https://ref.example/")).toEqual({
      url: href,
      path: "/landing",
      title: "Landing",
      referrer: "https://ref.example/",
      utm_source: "news",
      utm_medium: "email",
      utm_campaign: "launch",
      utm_term: "shoes",
      utm_content: "hero",
    });
  });

  it("leaves out what is empty", () => {
    expect(pageParams("https://a.example/p?utm_source=", "", "")).toEqual({
      url: "https://a.example/p?utm_source=",
      path: "/p",
    });
  });
});

describe("screenName", () => {
  it("is the path, plus the hash of hash-routed apps only", () => {
    expect(screenName(new URL("https://a.example/docs#intro"))).toBe("/docs");
    expect(screenName(new URL("https://a.example/app#/users/7"))).toBe("/app#/users/7");
    expect(screenName(new URL("https://a.example/app#!/users"))).toBe("/app#!/users");
  });
});

describe("osVersion", () => {
  it.each([
    ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "Windows 10.0"],
    ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15", "macOS 10.15.7"],
    ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15", "iOS 17.4"],
    ["Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15", "iOS 16.6"],
    ["Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36", "Android 14"],
    ["Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36", "ChromeOS"],
    ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/156.0", "Linux"],
    ["curl/8.0", undefined],
  ])("%s", (ua, expected) => {
    expect(osVersion(ua)).toBe(expected);
  });
});
