// The native simulator: a Verilated top driven by a list of stream words, with no Python in the loop.
//
// Built by scripts/sim/native.py (the Verilator of scripts/sim/runner.py, -O3). IN and OUT name the top's
// input and output streams (Amaranth's <name>__valid / __ready / __payload ports, which Verilator spells
// <name>___05Fvalid ...). Usage: harness WORDS REPLIES MAX_CYCLES [IMAGE] [--cycles FILE] [--trace FILE FIRST END]
//   WORDS     requests, 32-bit little-endian words: per request its word count, the reply words it gets, then its
//             words. A request's words go as fast as the top takes them, once every earlier reply has arrived
//             (the board's link reads no bytes while it answers)
//   REPLIES   written at the end: per reply word, the word (uint32), the wall seconds since the start and the
//             process's CPU seconds (two doubles): a loaded machine stretches the first, not the second
//   MAX_CYCLES  give up after this many clock cycles (exit code 3)
//   IMAGE     with -DFLASH only: the board's SPI flash contents (a data set image), written through the top's
//             flash_program port while the design is in reset, as a programmer writes the flash before the
//             FPGA boots; the run fails (exit code 4) if the flash model ignored a command (flash_ignored)
//   --cycles FILE  written at the end: per request, the clock cycle it started (every earlier reply in) and the
//             cycle its last reply arrived (two uint64); cycles count from the first reset edge, as the trace's time
//   --trace FILE FIRST END  with -DTRACE only (Verilator --trace-fst): an FST waveform of every signal while
//             requests FIRST .. END - 1 run, from the cycle request FIRST starts to the one its last reply arrives.
//             Time: PERIOD_NS (10 ns, the cocotb sessions' clock) a cycle; a cycle's inputs and the falling edge
//             at PERIOD_NS * cycle, its rising edge half a period later
// Each reply word is also printed on stdout as "<index>" when it arrives (the caller's progress).
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "Vtop.h"
#include "verilated.h"
#ifdef TRACE
#include "verilated_fst_c.h"
#endif

#define PORT2(stream, field) top.stream##___05F##field
#define PORT(stream, field) PORT2(stream, field)

static const uint64_t PERIOD_NS = 10;

int main(int argc, char **argv) {
#ifdef FLASH
    const int args = 5;
#else
    const int args = 4;
#endif
    const char *cycles_file = nullptr, *trace_file = nullptr;
    uint64_t trace_first = 0, trace_end = 0;
    bool usage = argc < args;
    for (int n = args; n < argc && !usage; n++) {
        if (!std::strcmp(argv[n], "--cycles") && n + 1 < argc) {
            cycles_file = argv[++n];
        } else if (!std::strcmp(argv[n], "--trace") && n + 3 < argc) {
            trace_file = argv[++n];
            trace_first = std::strtoull(argv[++n], nullptr, 10);
            trace_end = std::strtoull(argv[++n], nullptr, 10);
        } else {
            usage = true;
        }
    }
#ifndef TRACE
    if (trace_file) {
        std::fprintf(stderr, "--trace needs a harness built with -DTRACE (and Verilator's --trace-fst)\n");
        return 2;
    }
#endif
    if (usage) {
        std::fprintf(stderr, "usage: %s WORDS REPLIES MAX_CYCLES%s [--cycles FILE] [--trace FILE FIRST END]\n",
                     argv[0], args == 5 ? " IMAGE" : "");
        return 2;
    }
    std::vector<uint32_t> words;
    std::vector<uint64_t> gate;    // per word: the replies that must have arrived before it is sent
    std::vector<uint64_t> before;  // per request: the replies before it (it starts when they are in)
    std::vector<uint64_t> after;   // per request: the replies up to its own last
    uint64_t expected = 0;
    FILE *in = std::fopen(argv[1], "rb");
    if (!in) { std::perror(argv[1]); return 2; }
    uint32_t head[2], word;
    while (std::fread(head, 4, 2, in) == 2) {
        for (uint32_t n = 0; n < head[0] && std::fread(&word, 4, 1, in) == 1; n++) {
            words.push_back(word);
            gate.push_back(expected);
        }
        before.push_back(expected);
        expected += head[1];
        after.push_back(expected);
    }
    std::fclose(in);
    const uint64_t max_cycles = std::strtoull(argv[3], nullptr, 10);
    const size_t requests = before.size();
    // the trace's window in replies: from the replies before request FIRST to those up to request END - 1
    const uint64_t trace_from = trace_first < requests ? before[trace_first] : expected;
    const uint64_t trace_to = trace_end > 0 && trace_end <= requests ? after[trace_end - 1] : expected;

    VerilatedContext context;
#ifdef TRACE
    context.traceEverOn(true);  // before the model is made
#endif
    Vtop top{&context};
#ifdef TRACE
    VerilatedFstC trace;
    bool tracing = false;
    if (trace_file) top.trace(&trace, 99);
#endif
    std::vector<uint32_t> replies;
    std::vector<double> seconds, cpu;
    std::vector<uint64_t> started(requests, 0), ended(requests, 0);
    size_t next_start = 0, next_end = 0;
    const auto start = std::chrono::steady_clock::now();
    uint64_t tick = 0;  // clock cycles since the first reset edge: the trace's time
    top.clk = 0;
    top.rst = 1;
    top.eval();
    for (int n = 0; n < 2; n++, tick++) {  // reset for two rising edges, as scripts.sim.streams.start_clock
        top.clk = 1; top.eval(); top.clk = 0; top.eval();
    }
#ifdef FLASH
    {
        FILE *image = std::fopen(argv[4], "rb");
        if (!image) { std::perror(argv[4]); return 2; }
        int byte;
        for (uint32_t address = 0; (byte = std::fgetc(image)) != EOF; address++, tick++) {
            top.flash_program___05Faddr = address;
            top.flash_program___05Fdata = byte;
            top.flash_program___05Fen = 1;
            top.clk = 1; top.eval(); top.clk = 0; top.eval();
        }
        top.flash_program___05Fen = 0;
        std::fclose(image);
    }
#endif
    top.rst = 0;
    PORT(OUT, ready) = 1;
    size_t sent = 0;
    uint64_t cycle = 0;
    for (; replies.size() < expected && cycle < max_cycles; cycle++, tick++) {
        while (next_start < requests && replies.size() >= before[next_start]) started[next_start++] = tick;
        const bool offer = sent < words.size() && replies.size() >= gate[sent];
        PORT(IN, valid) = offer;
        if (offer) PORT(IN, payload) = words[sent];
        top.clk = 0;
        top.eval();  // the combinational outputs for this cycle's inputs
#ifdef TRACE
        if (trace_file) {
            const bool window = replies.size() >= trace_from && replies.size() < trace_to;
            if (window && !tracing) {
                trace.set_time_unit("1ns");
                trace.set_time_resolution("1ns");
                trace.open(trace_file);  // the first dump after open is a full one
                tracing = true;
            } else if (!window && tracing) {
                trace.close();
                tracing = false;
                trace_file = nullptr;  // one window
            }
            if (tracing) trace.dump(PERIOD_NS * tick);
        }
#endif
        const bool taken = PORT(IN, valid) && PORT(IN, ready);
        const bool replied = PORT(OUT, valid);
        const uint32_t reply = PORT(OUT, payload);
        top.clk = 1;
        top.eval();  // the rising edge
#ifdef TRACE
        if (tracing) trace.dump(PERIOD_NS * tick + PERIOD_NS / 2);
#endif
        sent += taken;
        if (replied) {
            replies.push_back(reply);
            seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            cpu.push_back(double(std::clock()) / CLOCKS_PER_SEC);
            while (next_end < requests && replies.size() >= after[next_end]) ended[next_end++] = tick;
            std::printf("%zu\n", replies.size());
            std::fflush(stdout);
        }
    }
#ifdef TRACE
    if (tracing) trace.dump(PERIOD_NS * tick);  // the last cycle's inputs, then the file is complete
    if (tracing) trace.close();
#endif
    top.final();
#ifdef FLASH
    if (top.flash_ignored) {
        std::fprintf(stderr, "the flash ignored a command (asleep, or before tRES1)\n");
        return 4;
    }
#endif
    FILE *out = std::fopen(argv[2], "wb");
    if (!out) { std::perror(argv[2]); return 2; }
    for (size_t n = 0; n < replies.size(); n++) {
        std::fwrite(&replies[n], 4, 1, out);
        std::fwrite(&seconds[n], 8, 1, out);
        std::fwrite(&cpu[n], 8, 1, out);
    }
    std::fclose(out);
    if (cycles_file) {
        FILE *file = std::fopen(cycles_file, "wb");
        if (!file) { std::perror(cycles_file); return 2; }
        for (size_t n = 0; n < requests; n++) {
            std::fwrite(&started[n], 8, 1, file);
            std::fwrite(&ended[n], 8, 1, file);
        }
        std::fclose(file);
    }
    std::fprintf(stderr, "%llu cycles, %zu of %zu words sent, %zu of %llu replies\n", (unsigned long long)cycle,
                 sent, words.size(), replies.size(), (unsigned long long)expected);
    return replies.size() < expected ? 3 : 0;
}
