// The native simulator: a Verilated top driven by a list of stream words, with no Python in the loop.
//
// Built by scripts/sim/native.py (the Verilator of scripts/sim/runner.py, -O3). IN and OUT name the top's
// input and output streams (Amaranth's <name>__valid / __ready / __payload ports, which Verilator spells
// <name>___05Fvalid ...). Usage: harness WORDS REPLIES MAX_CYCLES
//   WORDS     requests, 32-bit little-endian words: per request its word count, the reply words it gets, then its
//             words. A request's words go as fast as the top takes them, once every earlier reply has arrived
//             (the board's link reads no bytes while it answers)
//   REPLIES   written at the end: per reply word, the word (uint32), the wall seconds since the start and the
//             process's CPU seconds (two doubles): a loaded machine stretches the first, not the second
//   MAX_CYCLES  give up after this many clock cycles (exit code 3)
//   IMAGE     with -DFLASH only: the board's SPI flash contents (a data set image), written through the top's
//             flash_program port while the design is in reset, as a programmer writes the flash before the
//             FPGA boots; the run fails (exit code 4) if the flash model ignored a command (flash_ignored)
// Each reply word is also printed on stdout as "<index>" when it arrives (the caller's progress).
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

#define PORT2(stream, field) top.stream##___05F##field
#define PORT(stream, field) PORT2(stream, field)

int main(int argc, char **argv) {
#ifdef FLASH
    const int args = 5;
#else
    const int args = 4;
#endif
    if (argc != args) {
        std::fprintf(stderr, "usage: %s WORDS REPLIES MAX_CYCLES%s\n", argv[0], args == 5 ? " IMAGE" : "");
        return 2;
    }
    std::vector<uint32_t> words;
    std::vector<uint64_t> gate;  // per word: the replies that must have arrived before it is sent
    uint64_t expected = 0;
    FILE *in = std::fopen(argv[1], "rb");
    if (!in) { std::perror(argv[1]); return 2; }
    uint32_t head[2], word;
    while (std::fread(head, 4, 2, in) == 2) {
        for (uint32_t n = 0; n < head[0] && std::fread(&word, 4, 1, in) == 1; n++) {
            words.push_back(word);
            gate.push_back(expected);
        }
        expected += head[1];
    }
    std::fclose(in);
    const uint64_t max_cycles = std::strtoull(argv[3], nullptr, 10);

    VerilatedContext context;
    Vtop top{&context};
    std::vector<uint32_t> replies;
    std::vector<double> seconds, cpu;
    const auto start = std::chrono::steady_clock::now();
    top.clk = 0;
    top.rst = 1;
    top.eval();
    for (int n = 0; n < 2; n++) {  // reset for two rising edges, as scripts.sim.streams.start_clock
        top.clk = 1; top.eval(); top.clk = 0; top.eval();
    }
#ifdef FLASH
    {
        FILE *image = std::fopen(argv[4], "rb");
        if (!image) { std::perror(argv[4]); return 2; }
        int byte;
        for (uint32_t address = 0; (byte = std::fgetc(image)) != EOF; address++) {
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
    for (; replies.size() < expected && cycle < max_cycles; cycle++) {
        const bool offer = sent < words.size() && replies.size() >= gate[sent];
        PORT(IN, valid) = offer;
        if (offer) PORT(IN, payload) = words[sent];
        top.clk = 0;
        top.eval();  // the combinational outputs for this cycle's inputs
        const bool taken = PORT(IN, valid) && PORT(IN, ready);
        const bool replied = PORT(OUT, valid);
        const uint32_t reply = PORT(OUT, payload);
        top.clk = 1;
        top.eval();  // the rising edge
        sent += taken;
        if (replied) {
            replies.push_back(reply);
            seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            cpu.push_back(double(std::clock()) / CLOCKS_PER_SEC);
            std::printf("%zu\n", replies.size());
            std::fflush(stdout);
        }
    }
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
    std::fprintf(stderr, "%llu cycles, %zu of %zu words sent, %zu of %llu replies\n", (unsigned long long)cycle,
                 sent, words.size(), replies.size(), (unsigned long long)expected);
    return replies.size() < expected ? 3 : 0;
}
