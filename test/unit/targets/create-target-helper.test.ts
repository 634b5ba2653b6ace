import { describe, expect, it } from "vitest";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { createTargetHelper, LioHelper, TgtHelper } from "../../../src/targets/index.js";

describe("createTargetHelper", () => {
  it("picks tgt by default and lio on request", () => {
    expect(createTargetHelper({}, new FakeRunner())._unsafeUnwrap()).toBeInstanceOf(TgtHelper);
    expect(createTargetHelper({ helper: "lio" }, new FakeRunner())._unsafeUnwrap()).toBeInstanceOf(LioHelper);
  });

  it("fails with INVALID_CONFIG naming the bad field", () => {
    const e = createTargetHelper({ helper: "nvmet" as never, iqnPrefix: "bad" }, new FakeRunner())._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.message).toMatch(/helper/);
    expect(e.message).toMatch(/iqnPrefix/);
    expect(createTargetHelper({ helper: "tgt" }, new FakeRunner(), { tgtControlPort: -1 })._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
  });
});
