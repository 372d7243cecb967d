// A behavioural model of the ECP5's MULT18X18D for the gate-level test of the lane multipliers
// (tb/lanes/test_lane_multipliers_ecp5.py): Yosys ships none (ecp5/cells_bb.v has only a black box).
//
// Only what hdl/lanes/lane_multipliers.py's mult18x18d uses: 18 x 18 signed or unsigned (SIGNEDA and
// SIGNEDB), input registers A and B (with their SIGNED flags) and the output register each either
// bypassed ("NONE") or on CLK0, enabled by CE0 and cleared by RST0 synchronously, no pipeline register.
// Any other setting stops the simulation ($fatal) instead of being modelled wrongly. The registers
// start at 0, as after the GSR at configuration. As in Lattice's own description of the primitive, a
// registered SIGNEDA/SIGNEDB travels with its operand; the product is the operands' full 36 bits.

module MULT18X18D (
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input CLK0, CE0, RST0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
    output P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    localparam A_REG = REG_INPUTA_CLK == "CLK0";
    localparam B_REG = REG_INPUTB_CLK == "CLK0";
    localparam P_REG = REG_OUTPUT_CLK == "CLK0";

    initial begin
        if (!(REG_INPUTA_CLK == "NONE" || (A_REG && REG_INPUTA_CE == "CE0" && REG_INPUTA_RST == "RST0")))
            $fatal(1, "MULT18X18D model: input A register not modelled (%s, %s, %s)",
                   REG_INPUTA_CLK, REG_INPUTA_CE, REG_INPUTA_RST);
        if (!(REG_INPUTB_CLK == "NONE" || (B_REG && REG_INPUTB_CE == "CE0" && REG_INPUTB_RST == "RST0")))
            $fatal(1, "MULT18X18D model: input B register not modelled (%s, %s, %s)",
                   REG_INPUTB_CLK, REG_INPUTB_CE, REG_INPUTB_RST);
        if (!(REG_OUTPUT_CLK == "NONE" || (P_REG && REG_OUTPUT_CE == "CE0" && REG_OUTPUT_RST == "RST0")))
            $fatal(1, "MULT18X18D model: output register not modelled (%s, %s, %s)",
                   REG_OUTPUT_CLK, REG_OUTPUT_CE, REG_OUTPUT_RST);
        if (REG_PIPELINE_CLK != "NONE" || REG_INPUTC_CLK != "NONE")
            $fatal(1, "MULT18X18D model: pipeline and C registers not modelled");
        if (RESETMODE != "SYNC" || MULT_BYPASS != "DISABLED" || SOURCEB_MODE != "B_SHIFT" || HIGHSPEED_CLK != "NONE")
            $fatal(1, "MULT18X18D model: only RESETMODE SYNC, MULT_BYPASS DISABLED, SOURCEB_MODE B_SHIFT, no HIGHSPEED_CLK");
    end

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};

    reg [17:0] a_r = 18'd0, b_r = 18'd0;
    reg signed_a_r = 1'b0, signed_b_r = 1'b0;
    reg [35:0] p_r = 36'd0;

    wire [17:0] a_m = A_REG ? a_r : a;
    wire [17:0] b_m = B_REG ? b_r : b;
    wire signed_a = A_REG ? signed_a_r : SIGNEDA;
    wire signed_b = B_REG ? signed_b_r : SIGNEDB;
    wire [35:0] a_x = {{18{signed_a & a_m[17]}}, a_m};
    wire [35:0] b_x = {{18{signed_b & b_m[17]}}, b_m};
    wire [35:0] product = a_x * b_x;  // the low 36 bits of the extended operands' product: signed or not

    always @(posedge CLK0) begin
        if (SOURCEA !== 1'b0 || SOURCEB !== 1'b0)
            $fatal(1, "MULT18X18D model: SOURCEA/SOURCEB (the shift cascade) not modelled");
        if (RST0) begin
            a_r <= 18'd0; b_r <= 18'd0; signed_a_r <= 1'b0; signed_b_r <= 1'b0; p_r <= 36'd0;
        end else if (CE0) begin
            a_r <= a; b_r <= b; signed_a_r <= SIGNEDA; signed_b_r <= SIGNEDB; p_r <= product;
        end
    end

    wire [35:0] p = P_REG ? p_r : product;
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
            P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
endmodule
