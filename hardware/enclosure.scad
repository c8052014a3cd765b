// retrostep enclosure: a box for the board, the IMU breakout, a 1-cell LiPo and a coin
// vibration motor, clipped to the shoe's laces, arrow on the lid toward the toe.
//
// Render one part at a time (OpenSCAD 2021.01 or later):
//   openscad -D 'part="box"'     -o box.stl     enclosure.scad
//   openscad -D 'part="lid"'     -o lid.stl     enclosure.scad
//   openscad -D 'part="deck"'    -o deck.stl    enclosure.scad
//   openscad -D 'part="plunger"' -o plunger.stl enclosure.scad
//   openscad -D 'part="all"'     enclosure.scad       (everything, laid out to look at)
// Other boards: -D 'board="qtpy"' or 'board="pico"'. Lace clip: -D 'clip="hook"'.
//
// Frame (as the device frame in DESIGN.md): +x toward the toe, +y toward the wearer's
// left, +z up. The USB-C end of the board faces the heel (-x) so a cable plugged in for
// sync does not hit the front of the shoe. Units: mm.
//
// Stack inside the box, bottom to top: floor | LiPo (heel end) and motor (toe end) |
// rails | deck plate with the board, the breakout and the button | lid.
// Sizes of bought parts are nominal: measure yours with calipers and adjust.

/* [Selection] */
part = "all";      // "box", "lid", "deck", "plunger", "all"
board = "xiao";    // "xiao" (XIAO ESP32S3 / ESP32C3), "qtpy" (QT Py RP2040), "pico"
clip = "tabs";     // "tabs": two slotted tabs; "hook": a tongue that slides under the laces

/* [Bought parts: [length x, width y, height z over the deck]] */
// board footprint and height above its mounting surface incl. the USB-C receptacle
xiao_size = [21.0, 17.8, 4.8];
qtpy_size = [21.8, 17.8, 4.8];
pico_size = [51.0, 21.0, 4.2];
// Adafruit 4438 LSM6DSOX STEMMA QT breakout, incl. the JST-SH sockets
imu_size = [25.4, 17.8, 4.6];
// 1-cell LiPo pouch, e.g. a 402030 (4.0 x 20 x 30 mm) plus ~3 mm of protection PCB
lipo_size = [33.0, 20.5, 4.2];
motor_d = 10.0;          // coin ERM (Adafruit 1201: 10 mm)
motor_t = 2.7;
switch_size = [6.2, 6.2, 5.0];  // 6 x 6 mm tactile switch, body + actuator height
usbc_opening = [12.0, 7.0];     // y x z; room for a USB-C plug's overmould
usbc_z = 1.6 + 1.6;      // USB-C centre above the deck: PCB thickness + half the receptacle

/* [Box] */
wall = 1.8;
floor_t = 1.6;
lid_t = 1.6;
clear = 0.6;             // gap around parts
gap = 2.0;               // between board, breakout and switch along x
deck_t = 1.2;
rail_w = 1.6;            // ledges along the long walls that carry the deck
wire_room = 2.0;         // above the tallest part, for wires
corner_r = 2.0;
fit = 0.25;              // clearance of the lid lip and the deck in the box

/* [Lace clip] */
tab_len = 9.0;           // how far each tab sticks out beyond the box (x)
tab_t = 2.2;
slot_w = 3.5;            // slot for a flat lace or a 10 mm strap threaded edge-on
slot_rim = 2.5;
hook_gap = 2.6;          // room for a lace between the floor and the hook
hook_t = 2.0;
hook_frac = 0.65;        // hook length as a fraction of the box length

/* [Lid marks] */
marks = "raised";        // "raised" (print the lid lip-down) or "engraved" (top-down)
emboss = 0.6;
text_size = 5.0;

$fn = 48;

// ---------------------------------------------------------------- derived sizes
board_size = board == "pico" ? pico_size : board == "qtpy" ? qtpy_size : xiao_size;

deck_len = board_size[0] + gap + imu_size[0] + gap + switch_size[0];
floor_len = lipo_size[0] + gap + motor_d;
inner_l = max(deck_len, floor_len) + 2 * clear;
inner_w = max(max(board_size[1], imu_size[1]), lipo_size[1]) + 2 * clear;
// the ledges stick out rail_w from the walls with a 45 degree underside, so they start
// above the LiPo (which is wider than the gap between them)
ledge_h = 0.6 + rail_w;
rail_z = floor_t + max(lipo_size[2], motor_t) + 0.4 + ledge_h;    // top of the ledges
deck_top = rail_z + deck_t;
parts_h = max(max(board_size[2], imu_size[2]), switch_size[2]);
inner_h = deck_top - floor_t + parts_h + wire_room;
outer = [inner_l + 2 * wall, inner_w + 2 * wall, floor_t + inner_h];

// x positions along the deck (from the inner heel wall)
board_x0 = clear;
imu_x0 = board_x0 + board_size[0] + gap;
switch_x0 = imu_x0 + imu_size[0] + gap;
switch_c = [wall + switch_x0 + switch_size[0] / 2, outer[1] / 2];   // in box coordinates

echo(str("retrostep box outer size (mm): ", outer[0], " x ", outer[1], " x ", outer[2],
         " + lid ", lid_t));

// ---------------------------------------------------------------- helpers
module rounded_block(size, r) {
    // a block with rounded vertical edges, origin at its lower corner
    hull() for (x = [r, size[0] - r], y = [r, size[1] - r])
        translate([x, y, 0]) cylinder(r = r, h = size[2]);
}

// ---------------------------------------------------------------- box
module box() {
    difference() {
        union() {
            rounded_block(outer, corner_r);
            lace_clip();
        }
        // cavity
        translate([wall, wall, floor_t])
            rounded_block([inner_l, inner_w, inner_h + 1], max(corner_r - wall, 0.5));
        // USB-C opening in the heel wall, centred on the board
        translate([-1, outer[1] / 2 - usbc_opening[0] / 2, deck_top + usbc_z - usbc_opening[1] / 2])
            cube([wall + 2, usbc_opening[0], usbc_opening[1]]);
        // grooves for the lid's snap bumps, on both long walls
        for (y = [wall - 0.6, outer[1] - wall - 0.01])
            translate([outer[0] / 2 - 8, y, outer[2] - 2.4])
                cube([16, 0.61, 1.0]);
    }
    // ledges that carry the deck, along both long walls; 45 degree undersides print
    // without support
    for (side = [0, 1])
        translate([wall, side == 0 ? wall : outer[1] - wall, rail_z])
            mirror([0, side, 0]) rotate([90, 0, 90])
                linear_extrude(inner_l)
                    polygon([[-0.01, 0], [rail_w, 0], [rail_w, -0.6], [-0.01, -ledge_h]]);
}

module lace_clip() {
    if (clip == "tabs") {
        // two tabs in the plane of the floor, at the heel and the toe end, each with a
        // slot across the foot: thread one lace crossing (or a strap) through each
        for (end = [0, 1])
            translate([end == 0 ? -tab_len + corner_r : outer[0] - corner_r, 0, 0])
                difference() {
                    rounded_block([tab_len, outer[1], tab_t], corner_r);
                    translate([end == 0 ? (tab_len - corner_r) / 2 - slot_w / 2
                                        : corner_r + (tab_len - corner_r) / 2 - slot_w / 2,
                               slot_rim, -1])
                        cube([slot_w, outer[1] - 2 * slot_rim, tab_t + 2]);
                }
    } else {
        // a tongue under the box, joined at the heel end, open toward the toe: it slides
        // under one lace crossing from the heel side, and the laces press it to the shoe
        hook_len = outer[0] * hook_frac;
        translate([0, 0, -hook_gap]) cube([6, outer[1], hook_gap + 0.01]);   // root
        translate([0, 0, -hook_gap - hook_t])
            hull() {
                cube([hook_len - 3, outer[1], hook_t]);
                translate([hook_len - 0.5, 2, 0]) cube([0.5, outer[1] - 4, 0.8]);  // thin tip
            }
    }
}

// ---------------------------------------------------------------- deck
module deck() {
    // plate resting on the ledges; board, breakout and switch stick on with foam tape.
    // Drawn in cavity coordinates (origin at the inner heel-right corner) shifted by the
    // fit, so that positions match the box and the lid's button hole.
    translate([-fit, -fit, 0]) intersection() {
        translate([fit, fit, 0]) cube([inner_l - 2 * fit, inner_w - 2 * fit, deck_t + 2]);
        union() {
            difference() {
                cube([inner_l, inner_w, deck_t]);
                // slot between board and breakout: the STEMMA QT cable, the motor and
                // battery wires pass down here
                translate([imu_x0 - gap + 0.3, inner_w / 2 - 4, -1]) cube([gap - 0.6, 8, deck_t + 2]);
            }
            // a stop that puts the board's USB-C end against the heel wall
            translate([board_x0 + board_size[0], 0, deck_t - 0.01]) cube([0.8, 3, 1.21]);
            // a frame that holds the switch under the lid's button hole
            translate([switch_x0 - 0.8, inner_w / 2 - switch_size[1] / 2 - 0.8, deck_t - 0.01])
                difference() {
                    cube([switch_size[0] + 1.6, switch_size[1] + 1.6, 1.21]);
                    translate([0.8, 0.8, -1]) cube([switch_size[0], switch_size[1], 3]);
                }
        }
    }
}

// ---------------------------------------------------------------- lid
lip_h = 2.6;
button_hole_d = 5.0;

module arrow_2d() {
    // arrow along +x (toward the toe)
    polygon([[-14, -2], [4, -2], [4, -5.5], [14, 0], [4, 5.5], [4, 2], [-14, 2]]);
}

module lid() {
    difference() {
        union() {
            rounded_block([outer[0], outer[1], lid_t], corner_r);
            // lip that fits inside the walls, with two snap bumps per long side
            // (it reaches half way into the plate: overlapping solids union into one)
            translate([wall + fit, wall + fit, -lip_h])
                difference() {
                    cube([inner_l - 2 * fit, inner_w - 2 * fit, lip_h + lid_t / 2]);
                    translate([1.2, 1.2, -1]) cube([inner_l - 2 * fit - 2.4, inner_w - 2 * fit - 2.4, lip_h + 2]);
                }
            for (y = [wall + fit, outer[1] - wall - fit])
                translate([outer[0] / 2, y, -1.9]) rotate([0, 90, 0])
                    scale([1, 0.9, 1]) cylinder(r = 0.5, h = 14, center = true, $fn = 16);
        }
        // button hole over the switch
        translate([switch_c[0], switch_c[1], -lip_h - 1]) cylinder(d = button_hole_d, h = lid_t + lip_h + 2);
        if (marks == "engraved")
            translate([0, 0, lid_t - emboss]) linear_extrude(emboss + 1) lid_marks();
    }
    if (marks != "engraved")
        translate([0, 0, lid_t - 0.01]) linear_extrude(emboss + 0.01) lid_marks();
}

module lid_marks() {
    // the arrow points to the toe (+x); TOE below it
    mark_x = (switch_c[0] - button_hole_d) / 2 + 2;
    translate([mark_x, outer[1] / 2 + 3.5, 0]) scale(0.8) arrow_2d();
    translate([mark_x, outer[1] / 2 - 5.0, 0])
        text("TOE", size = text_size, halign = "center", valign = "center",
             font = "Liberation Sans:style=Bold");
}

// ---------------------------------------------------------------- plunger
// pushes the switch through the lid's hole; the flange keeps it in the box
plunger_len = (outer[2] - (deck_top + switch_size[2])) + lid_t + 1.2;

module plunger() {
    cylinder(d = button_hole_d - 0.6, h = plunger_len);
    cylinder(d = button_hole_d + 3, h = 1.0);
}

// ---------------------------------------------------------------- layout
if (part == "box") box();
else if (part == "lid") {
    // raised marks: lip down on the bed (the plate bridges the lip, about 18 mm);
    // engraved marks: top face down, no bridging
    if (marks == "engraved") translate([0, outer[1], lid_t]) rotate([180, 0, 0]) lid();
    else translate([0, 0, lip_h]) lid();
}
else if (part == "deck") deck();
else if (part == "plunger") plunger();
else {
    box();
    translate([0, outer[1] + 10, lip_h]) lid();
    translate([0, -inner_w - 10, 0]) deck();
    translate([outer[0] + 15, outer[1] / 2, 0]) plunger();
}
