// A simulation model of the Lattice ECP5 DP16KD block RAM (16 kbit, two ports), for the
// subset snngen's designs and yosys's ECP5 mapping use. yosys ships only the primitive's
// ports and parameters (share/lattice/cells_sim_ecp5.v), so RTL with hand-instantiated
// DP16KDs and ECP5 gate-level netlists load this model instead.
//
// Modelled: data widths 1, 2, 4, 9 and 18 per port, and 36 (port A writes, port B reads); REGMODE NOREG and OUTREG; WRITEMODE
// NORMAL, WRITETHROUGH and READBEFOREWRITE; clock enables CE and OCE; the output reset, at
// the clock edge (RESETMODE SYNC) or at once (ASYNC); the 18-bit mode's byte enables on address
// pins 0 and 1; INITVAL_00..3F in the layout yosys writes: 1,024 rows of 18 bits, 16 rows per
// parameter at a 20-bit stride; 9- and 18-bit words fill rows in order, 1-, 2- and 4-bit words
// use row bits 0-7 and 9-16.
// Not modelled: chip-select decoding other than "0b000" (refused at time zero), the release
// timing of an asynchronous reset (ASYNC_RESET_RELEASE). A read of a row the other port writes
// at the same edge returns the old contents.
`timescale 1ns / 1ps
`default_nettype none

module DP16KD (
  input wire DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9,
  input wire DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input wire ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2,
  input wire ADA1, ADA0,
  input wire CEA, OCEA, CLKA, WEA, RSTA,
  input wire CSA2, CSA1, CSA0,
  output wire DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9,
  output wire DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
  input wire DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9,
  input wire DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input wire ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2,
  input wire ADB1, ADB0,
  input wire CEB, OCEB, CLKB, WEB, RSTB,
  input wire CSB2, CSB1, CSB0,
  output wire DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9,
  output wire DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter CLKAMUX = "CLKA";
  parameter CLKBMUX = "CLKB";
  parameter GSR = "ENABLED";
  parameter WID = 0;
  parameter INIT_DATA = "STATIC";
  parameter [319:0] INITVAL_00 = 320'h0, INITVAL_01 = 320'h0, INITVAL_02 = 320'h0,
    INITVAL_03 = 320'h0, INITVAL_04 = 320'h0, INITVAL_05 = 320'h0, INITVAL_06 = 320'h0,
    INITVAL_07 = 320'h0, INITVAL_08 = 320'h0, INITVAL_09 = 320'h0, INITVAL_0A = 320'h0,
    INITVAL_0B = 320'h0, INITVAL_0C = 320'h0, INITVAL_0D = 320'h0, INITVAL_0E = 320'h0,
    INITVAL_0F = 320'h0, INITVAL_10 = 320'h0, INITVAL_11 = 320'h0, INITVAL_12 = 320'h0,
    INITVAL_13 = 320'h0, INITVAL_14 = 320'h0, INITVAL_15 = 320'h0, INITVAL_16 = 320'h0,
    INITVAL_17 = 320'h0, INITVAL_18 = 320'h0, INITVAL_19 = 320'h0, INITVAL_1A = 320'h0,
    INITVAL_1B = 320'h0, INITVAL_1C = 320'h0, INITVAL_1D = 320'h0, INITVAL_1E = 320'h0,
    INITVAL_1F = 320'h0, INITVAL_20 = 320'h0, INITVAL_21 = 320'h0, INITVAL_22 = 320'h0,
    INITVAL_23 = 320'h0, INITVAL_24 = 320'h0, INITVAL_25 = 320'h0, INITVAL_26 = 320'h0,
    INITVAL_27 = 320'h0, INITVAL_28 = 320'h0, INITVAL_29 = 320'h0, INITVAL_2A = 320'h0,
    INITVAL_2B = 320'h0, INITVAL_2C = 320'h0, INITVAL_2D = 320'h0, INITVAL_2E = 320'h0,
    INITVAL_2F = 320'h0, INITVAL_30 = 320'h0, INITVAL_31 = 320'h0, INITVAL_32 = 320'h0,
    INITVAL_33 = 320'h0, INITVAL_34 = 320'h0, INITVAL_35 = 320'h0, INITVAL_36 = 320'h0,
    INITVAL_37 = 320'h0, INITVAL_38 = 320'h0, INITVAL_39 = 320'h0, INITVAL_3A = 320'h0,
    INITVAL_3B = 320'h0, INITVAL_3C = 320'h0, INITVAL_3D = 320'h0, INITVAL_3E = 320'h0,
    INITVAL_3F = 320'h0;

  localparam [64*320-1:0] INITVAL = {
    INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A, INITVAL_39,
    INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32,
    INITVAL_31, INITVAL_30, INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B,
    INITVAL_2A, INITVAL_29, INITVAL_28, INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24,
    INITVAL_23, INITVAL_22, INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E, INITVAL_1D,
    INITVAL_1C, INITVAL_1B, INITVAL_1A, INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16,
    INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12, INITVAL_11, INITVAL_10, INITVAL_0F,
    INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A, INITVAL_09, INITVAL_08,
    INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02, INITVAL_01,
    INITVAL_00};

  reg [17:0] rows [0:1023];
  integer r;
  initial begin
    for (r = 0; r < 1024; r = r + 1)
      rows[r] = INITVAL[(r / 16) * 320 + (r % 16) * 20 +: 18];
    if (CSDECODE_A != "0b000" || CSDECODE_B != "0b000") begin
      $display("ecp5_dp16kd.v: only CSDECODE \"0b000\" is modelled");
      $finish;
    end
  end

  wire [13:0] address_a = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4,
                           ADA3, ADA2, ADA1, ADA0};
  wire [13:0] address_b = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4,
                           ADB3, ADB2, ADB1, ADB0};
  wire [17:0] data_in_a = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9,
                           DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] data_in_b = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9,
                           DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};

  // Every mode's row is address pins 13..4: the pins below select the word in the row.
  function [9:0] row_of(input [13:0] address);
    row_of = address[13:4];
  endfunction

  // 1-, 2- and 4-bit words: 16 data bits per row, in row bits 0-7 and 9-16; the address
  // pins below 4 select the word in the row.
  function [4:0] offset_of(input integer width, input [13:0] address);
    offset_of = width == 4 ? {address[3:2], 2'b00} : width == 2 ? {address[3:1], 1'b0}
                : {1'b0, address[3:0]};
  endfunction

  function [17:0] read_word(input integer width, input [17:0] row, input [13:0] address);
    reg [15:0] packed_bits;
    begin
      packed_bits = {row[16:9], row[7:0]} >> offset_of(width, address);
      case (width)
        18: read_word = row;
        9: read_word = address[3] ? {9'd0, row[17:9]} : {9'd0, row[8:0]};
        default: read_word = {2'd0, packed_bits & ((16'd1 << width) - 16'd1)};
      endcase
    end
  endfunction

  function [17:0] write_word(input integer width, input [17:0] row, input [13:0] address,
                             input [17:0] data);
    reg [15:0] packed_bits, mask;
    begin
      mask = ((16'd1 << width) - 16'd1) << offset_of(width, address);
      packed_bits = ({row[16:9], row[7:0]} & ~mask)
                    | ((data[15:0] << offset_of(width, address)) & mask);
      write_word = row;
      case (width)
        18: begin
          // Address pins 0 and 1 are the byte enables of the two 9-bit halves.
          if (address[0]) write_word[8:0] = data[8:0];
          if (address[1]) write_word[17:9] = data[17:9];
        end
        9: if (address[3]) write_word[17:9] = data[8:0]; else write_word[8:0] = data[8:0];
        default: write_word = {row[17], packed_bits[15:8], row[8], packed_bits[7:0]};
      endcase
    end
  endfunction

  reg [17:0] latch_a = 18'd0, output_a = 18'd0, latch_b = 18'd0, output_b = 18'd0;
  reg [17:0] row_a, row_b;

  // RESETMODE picks whether RSTA clears the outputs at the clock edge or at once.
  wire sync_reset_a = RESETMODE == "SYNC" && RSTA;
  wire async_reset_a = RESETMODE == "ASYNC" && RSTA;

  always @(posedge CLKA or posedge async_reset_a) begin
    if (async_reset_a) begin
      latch_a <= 18'd0;
      output_a <= 18'd0;
    end else begin
      if (sync_reset_a) latch_a <= 18'd0;
      else if (CEA && DATA_WIDTH_A != 36) begin
        row_a = rows[row_of(address_a)];
        if (!WEA || WRITEMODE_A == "READBEFOREWRITE")
          latch_a <= read_word(DATA_WIDTH_A, row_a, address_a);
        else if (WRITEMODE_A == "WRITETHROUGH")
          latch_a <= read_word(DATA_WIDTH_A,
                               write_word(DATA_WIDTH_A, row_a, address_a, data_in_a),
                               address_a);
        if (WEA)
          rows[row_of(address_a)] <= write_word(DATA_WIDTH_A, row_a, address_a,
                                                 data_in_a);
      end
      if (sync_reset_a) output_a <= 18'd0;
      else if (OCEA) output_a <= latch_a;
    end
  end

  // RESETMODE picks whether RSTB clears the outputs at the clock edge or at once.
  wire sync_reset_b = RESETMODE == "SYNC" && RSTB;
  wire async_reset_b = RESETMODE == "ASYNC" && RSTB;

  always @(posedge CLKB or posedge async_reset_b) begin
    if (async_reset_b) begin
      latch_b <= 18'd0;
      output_b <= 18'd0;
    end else begin
      if (sync_reset_b) latch_b <= 18'd0;
      else if (CEB && DATA_WIDTH_B != 36) begin
        row_b = rows[row_of(address_b)];
        if (!WEB || WRITEMODE_B == "READBEFOREWRITE")
          latch_b <= read_word(DATA_WIDTH_B, row_b, address_b);
        else if (WRITEMODE_B == "WRITETHROUGH")
          latch_b <= read_word(DATA_WIDTH_B,
                               write_word(DATA_WIDTH_B, row_b, address_b, data_in_b),
                               address_b);
        if (WEB)
          rows[row_of(address_b)] <= write_word(DATA_WIDTH_B, row_b, address_b,
                                                 data_in_b);
      end
      if (sync_reset_b) output_b <= 18'd0;
      else if (OCEB) output_b <= latch_b;
    end
  end

  // The 36-bit mode (what yosys's PDPW16KD mapping builds): port A writes a word of two rows,
  // DIA the low row and DIB the high one, with the byte enables of its four 9-bit parts on
  // address pins 0-3; port B reads it, DOA the low row and DOB the high one.
  reg [35:0] wide_latch = 36'd0, wide_output = 36'd0;
  reg [17:0] wide_low, wide_high;
  wire [9:0] wide_write_row = {address_a[13:5], 1'b0};
  wire [9:0] wide_read_row = {address_b[13:5], 1'b0};

  always @(posedge CLKA)
    if (DATA_WIDTH_A == 36 && CEA && WEA) begin
      wide_low = rows[wide_write_row];
      wide_high = rows[wide_write_row | 10'd1];
      if (address_a[0]) wide_low[8:0] = data_in_a[8:0];
      if (address_a[1]) wide_low[17:9] = data_in_a[17:9];
      if (address_a[2]) wide_high[8:0] = data_in_b[8:0];
      if (address_a[3]) wide_high[17:9] = data_in_b[17:9];
      rows[wide_write_row] <= wide_low;
      rows[wide_write_row | 10'd1] <= wide_high;
    end

  always @(posedge CLKB or posedge async_reset_b)
    if (async_reset_b) begin
      wide_latch <= 36'd0;
      wide_output <= 36'd0;
    end else if (DATA_WIDTH_B == 36) begin
      if (sync_reset_b) wide_latch <= 36'd0;
      else if (CEB) wide_latch <= {rows[wide_read_row | 10'd1], rows[wide_read_row]};
      if (sync_reset_b) wide_output <= 36'd0;
      else if (OCEB) wide_output <= wide_latch;
    end

  wire [35:0] wide_data = REGMODE_B == "OUTREG" ? wide_output : wide_latch;
  wire [17:0] data_out_a = DATA_WIDTH_B == 36 ? wide_data[17:0]
                         : REGMODE_A == "OUTREG" ? output_a : latch_a;
  wire [17:0] data_out_b = DATA_WIDTH_B == 36 ? wide_data[35:18]
                         : REGMODE_B == "OUTREG" ? output_b : latch_b;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9,
          DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = data_out_a;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9,
          DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = data_out_b;
endmodule

`default_nettype wire
