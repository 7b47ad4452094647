"""Hostile registered traffic: registration floods with garbage proofs, a
spoofed `from`, takeover races on one signature, and a recipient that
never reads while a sender floods it.
"""
import asyncio
import json
import os
import threading
import time

from tests.lib.asyncws import (bounded_gather, close_writer, connect, handshake, read_close, read_text, run_async,
                               wait_eof)
from tests.lib.wire import OP_TEXT, build_frame

from .support import ROOT, HostileCase, run_agent

VECTORS = os.path.join(os.environ.get("SHARED", os.path.join(ROOT, "..", "shared")), "vectors",
                       "registration.json")


def vector_client():
    """A real P-521 client key from the interop vectors: (PEM, SIG)."""
    with open(VECTORS) as f:
        case = json.load(f)["cases"][0]["response"]
    return case["publicKey"], case["publicKeySig"]


class GarbageProofs(HostileCase):
    def test_registration_flood_with_garbage_proofs(self):
        N = 3500
        # Every garbage kind must get its own code: the per-address limits
        # that would answer most of one address's flood with BUSY are
        # lifted here (tests/hostile/test_admission.py covers them).
        r = self.start("--max-conns", "5000", "--max-registrations-per-ip", "0", "--registration-rate-per-ip", "0")
        pem, sig = vector_client()
        other_sig = "A" * 43

        def kinds(t1):
            clear = json.dumps({"t1": t1, "t2": t1 + 5, "dt": 5})
            good = {"handler": "register3", "clearText": clear, "publicKeySig": sig, "publicKey": pem}
            return {
                "garbage-pem": (dict(good, publicKey="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
                                     cypherText="00" * 32), "BAD_PUBLIC_KEY"),
                "pem-not-a-string": (dict(good, publicKey=42, cypherText="00" * 32), "BAD_PUBLIC_KEY"),
                "pem-too-long": (dict(good, publicKey="A" * 1100, cypherText="00" * 32), "BAD_PUBLIC_KEY"),
                "sig-of-another-key": (dict(good, publicKeySig=other_sig, cypherText="00" * 32), "SIG_MISMATCH"),
                "t1-of-another-challenge": (dict(good, clearText=json.dumps({"t1": t1 + 1}), cypherText="00" * 32),
                                            "T1_MISMATCH"),
                "cypher-not-hex": (dict(good, cypherText="zz" * 32), "BAD_CYPHERTEXT"),
                # Well formed up to the proof: the relay pays for the ECDH.
                "forged-proof": (dict(good, cypherText=os.urandom(48).hex()), "PROOF_FAILED"),
            }

        names = list(kinds(0))
        t0 = time.monotonic()

        async def one(i):
            reader, writer = await connect(r.port)
            try:
                await handshake(reader, writer, r.port)
                r2 = await read_text(reader)
                msg, code = kinds(r2["t1"])[names[i % len(names)]]
                writer.write(build_frame(OP_TEXT, json.dumps(msg)))
                r4 = await read_text(reader, 30)
                close_code, _ = await read_close(reader, 10)
                return r4, code, close_code, await wait_eof(reader, 5)
            finally:
                close_writer(writer)

        # Fresh registrations keep working while the flood runs.
        fresh = {}
        t = threading.Thread(target=lambda: fresh.update(run_agent(r, "register", "--count", "5", timeout=90)),
                             daemon=True)
        t.start()
        results = run_async(bounded_gather([one(i) for i in range(N)], 150), 120)
        t.join(100)
        pair = self.window(t0, "garbage proofs")
        for i, res in enumerate(results):
            self.assertNotIsInstance(res, Exception, names[i % len(names)])
            r4, code, close_code, eof = res
            self.assertEqual(r4, {"handler": "register4", "state2": "UNVERIFIED", "error": code}, names[i % len(names)])
            self.assertEqual(close_code, 1008)
            self.assertTrue(eof)
        self.assertEqual(len(fresh.get("times", [])), 5, fresh)
        self.assertLess(max(fresh["times"]), 5000, "a fresh registration took %s ms during the flood" % fresh)
        totals = self.stop()
        self.assertEqual(totals.get("registrations_failed", 0), N)
        self.assertEqual(totals.get("registrations_verified", 0), 2 + 5)
        print("\n  garbage proofs: %d (7 kinds) refused with their codes, close 1008; fresh registrations %s ms; "
              "pair %s" % (N, fresh["times"], pair))


class SpoofedFrom(HostileCase):
    def test_spoofed_from_is_refused_and_reaches_nobody(self):
        N = 300
        r = self.start()
        t0 = time.monotonic()
        res = run_agent(r, "spoof", "--count", N)
        pair = self.window(t0, "spoofed from")
        self.assertEqual(res["fromMismatch"], N, res)
        self.assertEqual(res["leaked"], 0, "spoofed envelopes delivered: %s" % res)
        self.assertEqual(res["realAck"], "delivered")
        self.assertTrue(res["realFrom"])
        totals = self.stop()
        self.assertEqual(totals.get("from_mismatch", 0), N)
        print("\n  spoofed from: %d FROM_MISMATCH, none delivered; pair %s" % (N, pair))


class TakeoverRaces(HostileCase):
    ROUNDS, K = 8, 8

    def test_takeover_race_replace(self):
        r = self.start()
        t0 = time.monotonic()
        res = run_agent(r, "takeover", "--rounds", self.ROUNDS, "--k", self.K, timeout=120)
        pair = self.window(t0, "takeover races (replace)")
        for i, rnd in enumerate(res["rounds"]):
            what = "round %d: %s" % (i, rnd)
            # Every proof is good, so all are VERIFIED; each newer one
            # replaces the holder: K-1 REPLACED and closed 4000, one left.
            self.assertEqual(rnd["verified"], self.K, what)
            self.assertEqual(rnd["replaced"], self.K - 1, what)
            self.assertEqual(rnd["closeCodes"], [4000] * (self.K - 1), what)
            self.assertEqual(rnd["open"], 1, what)
            self.assertEqual(rnd["ack"], "delivered", what)
            self.assertEqual(rnd["receivers"], 1, what)
            self.assertTrue(rnd["receiverIsOpen"], what)
        totals = self.stop()
        self.assertEqual(totals.get("replaced", 0), self.ROUNDS * (self.K - 1))
        print("\n  takeover (replace): %d rounds of %d racing registrations; one holder each; pair %s"
              % (self.ROUNDS, self.K, pair))

    def test_takeover_race_reject(self):
        r = self.start("--on-duplicate", "reject")
        t0 = time.monotonic()
        res = run_agent(r, "takeover", "--rounds", self.ROUNDS, "--k", self.K, timeout=120)
        pair = self.window(t0, "takeover races (reject)")
        for i, rnd in enumerate(res["rounds"]):
            what = "round %d: %s" % (i, rnd)
            self.assertEqual(rnd["verified"], 1, what)
            self.assertEqual(rnd["sigInUse"], self.K - 1, what)
            self.assertEqual(rnd["closeCodes"], [1008] * (self.K - 1), what)
            self.assertEqual(rnd["open"], 1, what)
            self.assertEqual(rnd["receivers"], 1, what)
            self.assertTrue(rnd["receiverIsOpen"], what)
        totals = self.stop()
        self.assertEqual(totals.get("sig_in_use", 0), self.ROUNDS * (self.K - 1))
        print("\n  takeover (reject): %d rounds of %d; one VERIFIED, the rest SIG_IN_USE; pair %s"
              % (self.ROUNDS, self.K, pair))


class SlowReader(HostileCase):
    def test_recipient_that_never_reads_while_a_sender_floods_it(self):
        MAXQ, SLOW = 262144, 2
        r = self.start("--max-queued", str(MAXQ), "--slow-consumer-timeout", str(SLOW))
        base = r.rss_kib()
        samples = []
        done = threading.Event()

        def sample():
            for _ in range(1200):  # bounded: at most 120 s at 0.1 s
                if done.wait(0.1):
                    return
                try:
                    samples.append(r.rss_kib())
                except OSError:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        try:
            res = run_agent(r, "slow-reader", "--max-seconds", 40, timeout=90)
        finally:
            done.set()
            sampler.join(5)
        pair = self.window(t0, "slow reader")
        self.assertGreater(res["backlogged"], 0, res)
        self.assertIsNotNone(res["droppedMs"], "the slow consumer was not dropped: %s" % res)
        self.assertNotEqual(res["recipientClose"], "still open", res)
        self.assertNotEqual(res["recipientClose"], 1000, res)
        self.assertEqual(res["other"], [], res)
        peak = max(samples) if samples else r.rss_kib()
        # The relay holds at most --max-queued of the recipient's frames (its
        # kernel buffers are not the relay's RSS) plus its pools.
        self.assertLessEqual(peak - base, 24 * 1024, "relay RSS %d -> %d KiB" % (base, peak))
        totals = self.stop()
        self.assertEqual(totals.get("slow_consumers", 0), 1)
        self.assertEqual(totals.get("recipient_backlogged", 0), res["backlogged"])
        print("\n  slow reader: %d sent, %d delivered, %d RECIPIENT_BACKLOGGED (first at %s ms), dropped at %s ms, "
              "recipient closed %s; relay RSS %d -> %d KiB; pair %s" % (
                  res["sent"], res["delivered"], res["backlogged"], res["firstBackloggedMs"], res["droppedMs"],
                  res["recipientClose"], base, peak, pair))
