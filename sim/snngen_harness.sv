// snngen run harness: drives a generated core through a whole run with no testbench code in the
// per-cycle loop, and writes every spike, every step's end and every neuron's state to a file.
//
// The testbench (sim/test_snngen.py) only drives clk and rst, then waits for `finished`.
// Stimulus and output paths come from plusargs:
//   +stim_ids=FILE     channel ids of all input events, hex, one per line, step after step
//   +stim_counts=FILE  number of input events of each step, hex, one per line
//   +load=FILE         synapse-table words for a core with runtime weights (define
//                      SNNGEN_RUNTIME_WEIGHTS): hex, one per line, {address, data}; loaded once
//                      after the first idle, before step 0
//   +trace=FILE        output: "S step neuron", "E step count cycles", "V step neuron value"
//                      (decimal; value as an unsigned B-bit number), and with a synaptic
//                      current (CURRENT_BITS > 0) "C step neuron value" likewise
// The DUT module name comes from the DUT define (`snn_<name>` of manifest.json); port names and
// payload layouts are those of docs/architecture.md.
`ifndef DUT
`define DUT snn_design
`endif

module snngen_harness #(
    parameter integer NEURONS = 1,
    parameter integer STATE_BITS = 8,
    parameter integer CURRENT_BITS = 0,  // width of read_response's current field (0: none)
    parameter integer EVENT_WIDTH = 1,
    parameter integer NEURON_WIDTH = 1,
    parameter integer INPUT_WIDTH = 1,
    parameter integer STEPS = 1,
    parameter integer STIM_DEPTH = 1,
    parameter integer STALL = 0,         // 1: pseudo-random backpressure on both host streams
    parameter integer STALL_SEED = 1,
    parameter integer LOAD_WORDS = 0,    // synapse-table words to load (runtime weights)
    parameter integer LOAD_ADDRESS_WIDTH = 1,
    parameter integer LOAD_DATA_WIDTH = 1
) (
    input  wire clk,
    input  wire rst,
    output reg  finished
);
    // ---- the design under test --------------------------------------------------------------
    reg                      inputs_valid;
    reg  [INPUT_WIDTH-1:0]   inputs_channel;
    wire                     inputs_ready;
    wire                     spikes_valid;
    wire [EVENT_WIDTH:0]     spikes_payload;
    reg                      spikes_ready;
    reg                      start;
    wire                     idle;
    wire                     done;
    wire [31:0]              step_count;
    reg                      read_valid;
    reg  [NEURON_WIDTH-1:0]  read_neuron;
    wire                     read_ready;
    wire                     response_valid;
    wire [STATE_BITS+CURRENT_BITS-1:0] response_payload;
    wire [STATE_BITS-1:0]    response_value = response_payload[STATE_BITS-1:0];
    reg                      response_ready;
    wire                     write_ready;
    reg                      load_valid;
    reg  [LOAD_ADDRESS_WIDTH+LOAD_DATA_WIDTH-1:0] load_word;
    wire                     load_ready;

    `DUT dut (
        .clk(clk),
        .rst(rst),
        .inputs__valid(inputs_valid),
        .inputs__payload(inputs_channel),
        .inputs__ready(inputs_ready),
        .spikes__valid(spikes_valid),
        .spikes__payload(spikes_payload),
        .spikes__ready(spikes_ready),
        .start(start),
        .idle(idle),
        .done(done),
        .step_count(step_count),
        .read_request__valid(read_valid),
        .read_request__payload(read_neuron),
        .read_request__ready(read_ready),
        .read_response__valid(response_valid),
        .read_response__payload(response_payload),
        .read_response__ready(response_ready),
        .write_request__valid(1'b0),
        .write_request__payload({(NEURON_WIDTH + STATE_BITS){1'b0}}),
        .write_request__ready(write_ready)
`ifdef SNNGEN_RUNTIME_WEIGHTS
        ,
        .synapse_load__valid(load_valid),
        .synapse_load__payload(load_word),
        .synapse_load__ready(load_ready)
`endif
    );
`ifndef SNNGEN_RUNTIME_WEIGHTS
    assign load_ready = 1'b1;
`endif

    // ---- stimulus and output files ----------------------------------------------------------
    reg [INPUT_WIDTH-1:0] stim_ids [0:STIM_DEPTH-1];
    reg [31:0]            stim_counts [0:STEPS-1];
    // The payload layout is {data, address}: address in the low bits (manifest.json).
    reg [LOAD_ADDRESS_WIDTH+LOAD_DATA_WIDTH-1:0] load_words [0:(LOAD_WORDS > 0 ? LOAD_WORDS : 1)-1];
    integer trace_file;
    reg [8*1024-1:0] path;
    initial begin
        if ($value$plusargs("stim_ids=%s", path)) $readmemh(path, stim_ids);
        if ($value$plusargs("stim_counts=%s", path)) $readmemh(path, stim_counts);
        if ($value$plusargs("load=%s", path)) $readmemh(path, load_words);
        if (!$value$plusargs("trace=%s", path)) path = "trace.txt";
        trace_file = $fopen(path, "w");
    end

    // ---- pseudo-random stalls (a 16-bit Galois LFSR) -----------------------------------------
    reg [15:0] lfsr;
    wire stall_now = (STALL != 0) && (lfsr[1:0] == 2'b00);

    // ---- the run ------------------------------------------------------------------------------
    localparam [2:0] WAIT_IDLE = 3'd0, SEND = 3'd1, START = 3'd2, RUN = 3'd3, READ = 3'd4,
                     RECEIVE = 3'd5, FINISH = 3'd6, LOAD = 3'd7;
    reg [2:0]  phase;
    integer    step;          // 0-based step being run
    integer    sent;          // input events sent in this step
    integer    next_id;       // index into stim_ids
    integer    neuron;        // neuron being read
    integer    cycles;        // cycles since start
    integer    loaded;        // synapse-table words loaded
    wire [EVENT_WIDTH-1:0] event_neuron = spikes_payload[EVENT_WIDTH-1:0];
    wire                   event_end = spikes_payload[EVENT_WIDTH];

    always @(posedge clk) begin
        if (rst) begin
            phase <= WAIT_IDLE;
            step <= 0;
            sent <= 0;
            next_id <= 0;
            neuron <= 0;
            cycles <= 0;
            loaded <= 0;
            load_valid <= 1'b0;
            load_word <= 0;
            finished <= 1'b0;
            inputs_valid <= 1'b0;
            inputs_channel <= 0;
            spikes_ready <= 1'b1;
            start <= 1'b0;
            read_valid <= 1'b0;
            read_neuron <= 0;
            response_ready <= 1'b0;
            lfsr <= STALL_SEED[15:0] | 16'h1;
        end else begin
            lfsr <= {1'b0, lfsr[15:1]} ^ (lfsr[0] ? 16'hB400 : 16'h0000);
            spikes_ready <= !stall_now;
            cycles <= cycles + 1;
            start <= 1'b0;
            if (spikes_valid && spikes_ready) begin
                if (event_end)
                    $fwrite(trace_file, "E %0d %0d %0d\n", step, event_neuron, cycles);
                else
                    $fwrite(trace_file, "S %0d %0d\n", step, event_neuron);
            end
            case (phase)
                WAIT_IDLE: if (idle) begin
                    if (loaded < LOAD_WORDS) begin
                        phase <= LOAD;
                    end else if (step == STEPS) begin
                        phase <= FINISH;
                    end else begin
                        phase <= SEND;
                        sent <= 0;
                    end
                end
                SEND: begin
                    if (inputs_valid && inputs_ready) begin
                        inputs_valid <= 1'b0;
                        sent <= sent + 1;
                        next_id <= next_id + 1;
                    end else if (!inputs_valid) begin
                        if (sent == stim_counts[step]) begin
                            phase <= START;
                        end else if (!stall_now) begin
                            inputs_valid <= 1'b1;
                            inputs_channel <= stim_ids[next_id];
                        end
                    end
                end
                LOAD: begin
                    if (load_valid && load_ready) begin
                        load_valid <= 1'b0;
                        loaded <= loaded + 1;
                    end else if (!load_valid) begin
                        if (loaded == LOAD_WORDS) begin
                            phase <= WAIT_IDLE;
                        end else if (!stall_now) begin
                            load_valid <= 1'b1;
                            load_word <= load_words[loaded];
                        end
                    end
                end
                START: if (idle) begin
                    start <= 1'b1;
                    cycles <= 1;
                    phase <= RUN;
                end
                RUN: if (done) begin
                    phase <= READ;
                    neuron <= 0;
                end
                READ: begin
                    if (read_valid && read_ready) begin
                        read_valid <= 1'b0;
                        response_ready <= 1'b1;
                        phase <= RECEIVE;
                    end else if (!read_valid) begin
                        read_valid <= 1'b1;
                        read_neuron <= neuron[NEURON_WIDTH-1:0];
                    end
                end
                RECEIVE: if (response_valid && response_ready) begin
                    $fwrite(trace_file, "V %0d %0d %0d\n", step, neuron, response_value);
                    if (CURRENT_BITS > 0)
                        $fwrite(trace_file, "C %0d %0d %0d\n", step, neuron,
                                response_payload[STATE_BITS+CURRENT_BITS-1:STATE_BITS]);
                    response_ready <= 1'b0;
                    if (neuron == NEURONS - 1) begin
                        step <= step + 1;
                        phase <= WAIT_IDLE;
                    end else begin
                        neuron <= neuron + 1;
                        phase <= READ;
                    end
                end
                FINISH: if (!finished) begin
                    $fclose(trace_file);
                    finished <= 1'b1;
                end
                default: phase <= FINISH;
            endcase
        end
    end
endmodule
