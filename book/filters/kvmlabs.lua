--[[
kvmlabs book filter (pandoc >= 2.17).

1. Code includes. A code block
     ```{.c include="vmm/run.c" region="exit_table" caption="..."}
     ```
   is replaced by the named region of solution/vmm/run.c. Regions are marked
   in the sources with `// @region NAME` ... `// @end`. A lab exercise
   (`// @lab NN NAME: task` ... `// @stub CODE` ... `// @end`) is a solution:
   the book shows it only as the skeleton does, i.e. its task line and its
   stub, never its body. Naming a lab region needs show="stub"; a lab region
   nested in an included region is replaced by its stub automatically.
   Without region= the whole file is shown (lab bodies again stubbed).
   A missing file or region ends the build with a message naming it. A C code
   block without include= ends the build too: code is never pasted by hand.

2. Numbering and cross-references. Chapters are level-1 headers; the first
   numbered chapter is chapter 0 (the introduction) so that chapter N is lab
   N; a level-1 header with class .appendix starts the lettered appendices.
   Figures (an image alone in a paragraph, `![Caption](dot-name){#fig:id}`)
   and listings (included code) are numbered per chapter. `@fig:id`,
   `@lst:id`, `@sec:id`, `@tbl:id` become "Figure 1.2", "Listing 3.1",
   "Section 2.4" / "Chapter 2", "Table 4.1". An unknown reference ends the
   build.

   Every table with a caption is numbered per chapter too ("Table 3.2"),
   in the same order LaTeX numbers them; a table in a `::: {#tbl:id}` Div
   gets that id. Figures are shown at one scale: their natural size (one
   point of the .dot file is one point on the page), shrunk only when wider
   than the text. Citations of the bibliography (`[@popek1974]`) are left to
   citeproc, which runs after this filter; an unknown key ends the build.

3. Indexes and generated tables. Every inline code KVM_* / EXIT_REASON_*
   term is recorded with the section it appears in; Divs #index-kvm-api,
   #index-vmx-exits and #index-exercises are filled with generated tables,
   and a Div with class .vmcs-fields (or id vmcs-fields) with the VMCS field
   encodings of solution/kvm/vmx/vmcs.h.

4. Handout questions. A Div `::: {.handout-questions lab="NN"}` is replaced
   by the `## Questions` section of labs/NN-*/README.md, read by pandoc:
   the handout stays the one copy of its questions.

Problems that do not stop the build (a table, figure or listing without a
caption) are printed as "book: warning: ..."; `make check` fails on them.

Environment: KVMLABS_SOLUTION (the solution/ directory), KVMLABS_LABS (the
labs/ directory), KVMLABS_FIGDIR (where figure files are, for LaTeX; HTML
uses fig/NAME.svg), KVMLABS_BIB (the bibliography, when pandoc is not given
--bibliography).
]]

local SOLUTION = os.getenv("KVMLABS_SOLUTION") or "../solution"
local LABS = os.getenv("KVMLABS_LABS") or "../labs"
local FIGDIR = os.getenv("KVMLABS_FIGDIR") or "fig"
local is_latex = FORMAT:match("latex") ~= nil

local function fail(msg)
  io.stderr:write("book: error: " .. msg .. "\n")
  os.exit(1)
end

local function warn(msg)
  io.stderr:write("book: warning: " .. msg .. "\n")
end

---------------------------------------------------------------------------
-- Region parsing
---------------------------------------------------------------------------

local file_cache = {}

local function read_lines(rel)
  local path = SOLUTION .. "/" .. rel
  local f = io.open(path, "r")
  if not f then
    fail("missing include file: solution/" .. rel)
  end
  local lines = {}
  for line in f:lines() do
    lines[#lines + 1] = line
  end
  f:close()
  return lines
end

local function parse_file(rel)
  if file_cache[rel] then
    return file_cache[rel]
  end
  local lines = read_lines(rel)
  local regions, by_start, stack = {}, {}, {}
  local where = function(i) return "solution/" .. rel .. ":" .. i end
  for i, line in ipairs(lines) do
    local name = line:match("^%s*//%s*@region%s+([%w_%.%-]+)%s*$")
    local ind, lab, lname, task = line:match("^(%s*)//%s*@lab%s+(%d+)%s+([%w_%.%-]+):%s*(.-)%s*$")
    local sind, stub = line:match("^(%s*)//%s*@stub%s?(.*)$")
    local is_end = line:match("^%s*//%s*@end%s*$")
    if name then
      stack[#stack + 1] = { kind = "region", name = name, first = i }
    elseif lab then
      local r = { kind = "lab", name = lname, lab = tonumber(lab), task = task,
                  indent = ind, first = i, stubs = {} }
      stack[#stack + 1] = r
      by_start[i] = r
    elseif sind then
      local top = stack[#stack]
      if not top or top.kind ~= "lab" then
        fail("@stub outside a lab region at " .. where(i))
      end
      top.stubs[#top.stubs + 1] = sind .. stub
      top.first_stub = top.first_stub or i
    elseif is_end then
      local top = table.remove(stack)
      if not top then
        fail("@end without an open region at " .. where(i))
      end
      top.last = i
      if regions[top.name] then
        fail("region '" .. top.name .. "' defined twice in solution/" .. rel)
      end
      regions[top.name] = top
    elseif line:match("^%s*//%s*@[%a]+") and
           (line:match("//%s*@region") or line:match("//%s*@lab") or line:match("//%s*@end")) then
      fail("malformed region marker at " .. where(i) .. ": " .. line)
    end
  end
  if #stack > 0 then
    fail("region '" .. stack[#stack].name .. "' in solution/" .. rel .. " has no @end")
  end
  local parsed = { lines = lines, regions = regions, by_start = by_start }
  file_cache[rel] = parsed
  return parsed
end

local function stub_lines(r)
  local out = { r.indent .. string.format("// Lab %02d exercise %s():", r.lab, r.name) }
  -- The task, wrapped as comment lines of at most 72 columns.
  local line = ""
  for word in r.task:gmatch("%S+") do
    if #line > 0 and #line + 1 + #word > 72 then
      out[#out + 1] = r.indent .. "//   " .. line
      line = word
    else
      line = (#line > 0) and (line .. " " .. word) or word
    end
  end
  if #line > 0 then out[#out + 1] = r.indent .. "//   " .. line end
  for _, s in ipairs(r.stubs) do
    out[#out + 1] = s
  end
  return out
end

-- Lines first..last of a file, markers stripped, lab bodies replaced by stubs.
local function render_range(parsed, first, last)
  local out, i = {}, first
  while i <= last do
    local line = parsed.lines[i]
    local lab = parsed.by_start[i]
    if lab then
      for _, s in ipairs(stub_lines(lab)) do
        out[#out + 1] = s
      end
      i = lab.last + 1
    else
      if not line:match("^%s*//%s*@region%s") and not line:match("^%s*//%s*@end%s*$") then
        out[#out + 1] = line
      end
      i = i + 1
    end
  end
  return out
end

local function expand_tabs(line)
  local out, col = {}, 0
  for ch in line:gmatch(".") do
    if ch == "\t" then
      local n = 8 - (col % 8)
      out[#out + 1] = string.rep(" ", n)
      col = col + n
    else
      out[#out + 1] = ch
      col = col + 1
    end
  end
  return table.concat(out)
end

local function tidy(lines)
  local exp = {}
  for _, l in ipairs(lines) do
    exp[#exp + 1] = expand_tabs(l):gsub("%s+$", "")
  end
  while #exp > 0 and exp[1] == "" do table.remove(exp, 1) end
  while #exp > 0 and exp[#exp] == "" do table.remove(exp) end
  local common
  for _, l in ipairs(exp) do
    if l ~= "" then
      local n = #l:match("^ *")
      if not common or n < common then common = n end
    end
  end
  common = common or 0
  for k, l in ipairs(exp) do
    exp[k] = l:sub(common + 1)
  end
  return table.concat(exp, "\n")
end

-- The C function around a lab region (kernel style: braces of a function body
-- at column 0), with the comment block just above it: what a student sees in
-- the skeleton. Returns first, last line numbers or nil.
local function enclosing_function(parsed, r)
  local lines = parsed.lines
  local open, close
  for i = r.first - 1, 1, -1 do
    if lines[i]:match("^{") then open = i break end
    if lines[i]:match("^}") then return nil end
  end
  if not open then return nil end
  for i = r.last + 1, #lines do
    if lines[i]:match("^}") then close = i break end
    if lines[i]:match("^{") then return nil end
  end
  if not close then return nil end
  local start = open
  while start > 1 do
    local l = lines[start - 1]
    if l:match("^%s*$") or l:match("%*/%s*$") or l:match("^}") or l:match("^#") or l:match("^%s*//") then
      break
    end
    start = start - 1
  end
  if start > 1 and lines[start - 1]:match("%*/%s*$") then
    local j = start - 1
    while j >= 1 and not lines[j]:match("^/%*") do j = j - 1 end
    if j >= 1 then start = j end
  end
  return start, close
end

local function include_code(rel, region, show)
  if rel:match("%.%.") or rel:match("^/") then
    fail("include path must be relative to solution/ and stay inside it: " .. rel)
  end
  local parsed = parse_file(rel)
  if not region then
    return tidy(render_range(parsed, 1, #parsed.lines))
  end
  local r = parsed.regions[region]
  if not r then
    fail("missing region '" .. region .. "' in solution/" .. rel)
  end
  if r.kind == "lab" then
    if show ~= "stub" then
      fail("region '" .. region .. "' in solution/" .. rel .. " is lab " .. r.lab ..
           "'s exercise; the book shows only its stub: add show=\"stub\"")
    end
    local first, last = enclosing_function(parsed, r)
    if first then
      return tidy(render_range(parsed, first, last))
    end
    return tidy(stub_lines(r))
  end
  if show == "stub" then
    fail("show=\"stub\" given for '" .. region .. "' in solution/" .. rel .. ", which is not a lab region")
  end
  return tidy(render_range(parsed, r.first + 1, r.last - 1))
end

---------------------------------------------------------------------------
-- Numbering state
---------------------------------------------------------------------------

local refs = {}          -- id -> { kind=, num=, level= }
local chapter = nil      -- current chapter label ("0", "1", "A")
local sec = { 0, 0, 0 }
local started = false    -- first numbered chapter seen
local in_appendix = false
local appendix_n = 0
local chapter_n = -1
local fig_n, lst_n, tbl_n = 0, 0, 0
local current_section = nil   -- { id=, num= }
local index_terms = {}        -- term -> { list of {id, num} }, ordered
local auto_id = 0

local function register(id, entry)
  if refs[id] then
    fail("duplicate identifier '" .. id .. "'")
  end
  refs[id] = entry
end

local function letters(n)
  return string.char(string.byte("A") + n - 1)
end

local function number_header(h)
  if h.classes:includes("unnumbered") or h.level > 3 then
    return nil
  end
  if h.level == 1 then
    if h.classes:includes("appendix") then
      in_appendix = true
      appendix_n = appendix_n + 1
      chapter = letters(appendix_n)
    else
      if in_appendix then
        fail("numbered chapter '" .. pandoc.utils.stringify(h.content) .. "' after the appendices")
      end
      chapter_n = chapter_n + 1
      chapter = tostring(chapter_n)
    end
    sec[2], sec[3] = 0, 0
    fig_n, lst_n, tbl_n = 0, 0, 0
    return chapter
  end
  if not chapter then
    fail("section before the first chapter: " .. pandoc.utils.stringify(h.content))
  end
  if h.level == 2 then
    sec[2], sec[3] = sec[2] + 1, 0
    return chapter .. "." .. sec[2]
  end
  sec[3] = sec[3] + 1
  return chapter .. "." .. sec[2] .. "." .. sec[3]
end

local function is_figure(b)
  return b.t == "Para" and #b.content == 1 and b.content[1].t == "Image"
end

local function latex_inlines(inls)
  return inls
end

local function caption_block(prefix, num, id, inls)
  -- HTML: "Figure 1.2: caption"
  local out = { pandoc.Strong({ pandoc.Str(prefix .. "\u{a0}" .. num .. ":") }), pandoc.Space() }
  for _, x in ipairs(inls) do out[#out + 1] = x end
  return pandoc.Para(out)
end

local function make_figure(b)
  local img = b.content[1]
  local id = img.identifier
  if id == "" then
    fail("figure without an identifier: " .. img.src .. " (write ![...](" .. img.src .. "){#fig:name})")
  end
  if not id:match("^fig:") then
    fail("figure identifier must start with fig: (" .. id .. ")")
  end
  fig_n = fig_n + 1
  local num = chapter .. "." .. fig_n
  register(id, { kind = "fig", num = num })
  local name = img.src:gsub("%.%w+$", "")
  if #img.caption == 0 then
    warn("figure " .. id .. " (" .. name .. ".dot) in chapter " .. chapter .. " has no caption")
  end
  -- One scale for every figure: its natural size, so that a font of N pt in
  -- the .dot file prints at N pt. A width= attribute is ignored.
  if is_latex then
    local path = FIGDIR .. "/" .. name .. ".pdf"
    local f = io.open(path, "r")
    if not f then fail("missing figure file " .. path .. " (from book/figures/" .. name .. ".dot)") end
    f:close()
    -- The list of figures gets the caption's first sentence.
    local cap = { pandoc.RawInline("latex", "\\caption[") }
    for _, x in ipairs(img.caption) do
      cap[#cap + 1] = x
      if x.t == "Str" and x.text:match("%.$") then break end
    end
    cap[#cap + 1] = pandoc.RawInline("latex", "]{")
    for _, x in ipairs(img.caption) do cap[#cap + 1] = x end
    cap[#cap + 1] = pandoc.RawInline("latex", "}\\label{" .. id .. "}")
    return {
      pandoc.RawBlock("latex", "\\begin{figure}[htbp]\n\\centering\n" ..
        "\\kvfigure{" .. path .. "}"),
      pandoc.Plain(cap),
      pandoc.RawBlock("latex", "\\end{figure}"),
    }
  end
  local image = pandoc.Image({ pandoc.Str(pandoc.utils.stringify(img.caption)) }, "fig/" .. name .. ".svg")
  return {
    pandoc.Div({ pandoc.Para({ image }), caption_block("Figure", num, id, img.caption) },
      pandoc.Attr(id, { "figure" })),
  }
end

shown_exercises = {}   -- "file:region" -> listing that shows its skeleton

local function make_listing(b)
  local rel = b.attributes["include"]
  local region = b.attributes["region"]
  local show = b.attributes["show"]
  local text = include_code(rel, region, show)
  local id = b.identifier
  if id == "" then
    auto_id = auto_id + 1
    id = "lst:auto-" .. auto_id
  elseif not id:match("^lst:") then
    fail("listing identifier must start with lst: (" .. id .. ")")
  end
  lst_n = lst_n + 1
  local num = chapter .. "." .. lst_n
  register(id, { kind = "lst", num = num })
  if show == "stub" and region then
    shown_exercises[rel .. ":" .. region] = { id = id, num = num }
  end
  local capstr = b.attributes["caption"]
  local cap
  -- A skeleton's caption says whose skeleton it is; any other listing says
  -- what its code does.
  if show ~= "stub" and (not capstr or capstr:match("^%s*$")) then
    warn("listing " .. (b.identifier ~= "" and b.identifier or (rel .. (region and (" region " .. region) or ""))) ..
         " in chapter " .. chapter .. " has no caption")
  end
  if capstr then
    cap = pandoc.read(capstr, "markdown").blocks[1].content
  else
    cap = {}
  end
  local src = { pandoc.Code("solution/" .. rel) }
  if region then
    src = { pandoc.Code(region), pandoc.Space(), pandoc.Str("in"), pandoc.Space(), pandoc.Code("solution/" .. rel) }
  end
  if show == "stub" then
    table.insert(src, 1, pandoc.Str("skeleton of "))
  end
  if #cap > 0 then
    cap[#cap + 1] = pandoc.Space()
    cap[#cap + 1] = pandoc.Str("(")
    for _, x in ipairs(src) do cap[#cap + 1] = x end
    cap[#cap + 1] = pandoc.Str(")")
  else
    cap = src
  end
  local lang = b.classes[1] or "c"
  local code = pandoc.CodeBlock(text, pandoc.Attr("", { lang }))
  if is_latex then
    local c = { pandoc.RawInline("latex", "\\kvlistingcaption{") }
    for _, x in ipairs(cap) do c[#c + 1] = x end
    c[#c + 1] = pandoc.RawInline("latex", "}{" .. id .. "}")
    -- Code wider than the page at \small (about 88 columns) is set a size
    -- smaller rather than wrapped.
    local widest = 0
    for line in (text .. "\n"):gmatch("(.-)\n") do
      if #line > widest then widest = #line end
    end
    if widest > 88 then
      return { pandoc.Plain(c), pandoc.RawBlock("latex", "\\begingroup\\fvset{fontsize=\\footnotesize}"),
               code, pandoc.RawBlock("latex", "\\endgroup") }
    end
    return { pandoc.Plain(c), code }
  end
  return { pandoc.Div({ caption_block("Listing", num, id, cap), code }, pandoc.Attr(id, { "listing" })) }
end

local function make_table(b)
  -- Tables get numbered when they carry an id via a preceding Div #tbl:...
  return b
end

local function record_index(term)
  if not current_section then return end
  local list = index_terms[term]
  if not list then
    list = {}
    index_terms[term] = list
  end
  for _, e in ipairs(list) do
    if e.id == current_section.id then return end
  end
  list[#list + 1] = { id = current_section.id, num = current_section.num }
end

local function scan_inlines(blk)
  pandoc.walk_block(blk, {
    Code = function(c)
      local t = c.text:gsub("%(.*$", "")
      if t:match("^KVM_[A-Z0-9_]+$") or t:match("^EXIT_REASON_[A-Z0-9_]+$") then
        record_index(t)
      end
    end,
  })
end

---------------------------------------------------------------------------
-- Handout questions
---------------------------------------------------------------------------

-- The lab directory labs/NN-*/ for a lab number, by listing LABS.
local function lab_dir(nn)
  local pipe = io.popen("ls -1 '" .. LABS .. "' 2>/dev/null")
  local found
  for name in pipe:lines() do
    if name:match("^" .. nn .. "%-") then found = name end
  end
  pipe:close()
  return found
end

-- A path relative to a handout (labs/NN-x/), as a path from the repository
-- root: "../../solution/vmm/run.c" -> "solution/vmm/run.c".
local function repo_path(dir, target)
  local parts = {}
  for p in ("labs/" .. dir .. "/" .. target):gmatch("[^/]+") do
    if p == ".." then
      if #parts == 0 then return nil end
      table.remove(parts)
    elseif p ~= "." then
      parts[#parts + 1] = p
    end
  end
  return table.concat(parts, "/")
end

-- The handout's links point at files of the repository, relative to the
-- handout; in the book they would be broken. They become their text, with
-- the file's path from the repository root when the text does not say it.
local function handout_inlines(dir)
  return {
    Link = function(l)
      local t = l.target
      if t:match("^%a[%w+.-]*:") then return nil end       -- http:, mailto:
      local out = l.content
      local file = t:gsub("#.*$", "")
      if file ~= "" then
        local path = repo_path(dir, file)
        if path and pandoc.utils.stringify(l.content) ~= path then
          out = { table.unpack(l.content) }
          out[#out + 1] = pandoc.Space()
          out[#out + 1] = pandoc.Str("(")
          out[#out + 1] = pandoc.Code(path)
          out[#out + 1] = pandoc.Str(")")
        end
      end
      return out
    end,
    Image = function(img)
      fail("labs/" .. dir .. "/README.md: an image in the Questions section (" .. img.src ..
           "): the book cannot show it")
    end,
  }
end

function handout_questions(div)
  local lab = div.attributes["lab"]
  if not lab or not lab:match("^%d+$") then
    fail("handout-questions Div without a lab number (write ::: {.handout-questions lab=\"NN\"})")
  end
  local nn = string.format("%02d", tonumber(lab))
  local dir = lab_dir(nn)
  if not dir then
    fail("handout-questions: no lab " .. nn .. " directory (" .. nn .. "-*) in " .. LABS)
  end
  local path = LABS .. "/" .. dir .. "/README.md"
  local f = io.open(path, "r")
  if not f then
    fail("handout-questions: no handout labs/" .. dir .. "/README.md")
  end
  -- The lines of "## Questions" up to the next level-2 header, outside fences.
  local lines, inside, fence, seen = {}, false, nil, false
  for line in f:lines() do
    local fm = line:match("^%s*(```+)") or line:match("^%s*(~~~+)")
    if fm and not fence then
      fence = fm
    elseif fm and fence and line:match("^%s*" .. fence:sub(1, 1):gsub("%p", "%%%0") .. "+%s*$") then
      fence = nil
    end
    if not fence and not fm and line:match("^##%s") then
      if inside then break end
      if line:match("^##%s+Questions%s*#*%s*$") then
        inside, seen = true, true
        goto next
      end
    end
    if inside then lines[#lines + 1] = line end
    ::next::
  end
  f:close()
  if not seen then
    fail("handout-questions: labs/" .. dir .. "/README.md has no '## Questions' section")
  end
  local blocks = pandoc.read(table.concat(lines, "\n"), "markdown").blocks
  if #blocks == 0 then
    fail("handout-questions: the '## Questions' section of labs/" .. dir .. "/README.md is empty")
  end
  local out = {
    pandoc.Para({ pandoc.Str("From"), pandoc.Space(), pandoc.Str("the"), pandoc.Space(),
                  pandoc.Str("lab"), pandoc.Space(), pandoc.Str(nn), pandoc.Space(),
                  pandoc.Str("handout"), pandoc.Space(), pandoc.Str("("),
                  pandoc.Code("labs/" .. dir .. "/README.md"), pandoc.Str("):") }),
  }
  for i, b in ipairs(blocks) do
    -- The handout's opening words on handing in answers.md are for the student
    -- at the keyboard, not for the reader of the book.
    local hand_in = i == 1 and b.t == "Para" and pandoc.utils.stringify(b):match("^Hand in")
    if not hand_in then
      if b.t == "Header" then
        -- Under the chapter's "## Questions" a handout's sub-header is a run-in title.
        b = pandoc.Para({ pandoc.Strong(b.content) })
      end
      out[#out + 1] = pandoc.walk_block(b, handout_inlines(dir))
    end
  end
  return { pandoc.Div(out, pandoc.Attr("", { "handout-questions" }, { lab = nn })) }
end

local first_chapter_done = false
local backmatter_done = false

local function process_blocks(blocks)
  local out = {}
  for _, b in ipairs(blocks) do
    if b.t == "Header" then
      local num = number_header(b)
      if num then
        if b.identifier == "" then
          fail("header without identifier: " .. pandoc.utils.stringify(b.content))
        end
        register(b.identifier, { kind = "sec", num = num, level = b.level })
        current_section = { id = b.identifier, num = num }
        if is_latex and b.level == 1 then
          if not first_chapter_done then
            first_chapter_done = true
            out[#out + 1] = pandoc.RawBlock("latex", "\\mainmatter\\setcounter{chapter}{-1}")
          end
          if b.classes:includes("appendix") and appendix_n == 1 then
            out[#out + 1] = pandoc.RawBlock("latex", "\\appendix")
          end
        end
        if not is_latex then
          table.insert(b.content, 1, pandoc.Space())
          table.insert(b.content, 1, pandoc.Span({ pandoc.Str(num) }, pandoc.Attr("", { "header-section-number" })))
        end
      elseif b.level == 1 then
        -- An unnumbered chapter (the References): back matter, referred to by its title.
        local title = pandoc.utils.stringify(b.content)
        current_section = { id = b.identifier, num = title }
        if b.identifier ~= "" then
          register(b.identifier, { kind = "sec", num = title, level = 1, unnumbered = true })
        end
        if is_latex and first_chapter_done and not backmatter_done then
          backmatter_done = true
          out[#out + 1] = pandoc.RawBlock("latex", "\\backmatter")
        end
      end
      out[#out + 1] = b
    elseif is_figure(b) then
      for _, x in ipairs(make_figure(b)) do out[#out + 1] = x end
    elseif b.t == "CodeBlock" then
      if b.attributes["include"] then
        for _, x in ipairs(make_listing(b)) do out[#out + 1] = x end
      else
        local lang = b.classes[1]
        if lang == "c" or lang == "C" or lang == "asm" or lang == "nasm" then
          fail("a " .. lang .. " code block without include= (code is included from solution/, never pasted): " ..
               b.text:sub(1, 60))
        end
        out[#out + 1] = b
      end
    elseif b.t == "Div" and b.classes:includes("handout-questions") then
      for _, x in ipairs(handout_questions(b)) do
        out[#out + 1] = x
        scan_inlines(x)
      end
      goto continue
    elseif b.t == "Div" then
      -- Tables (in #tbl: Divs or not) are numbered after the generated
      -- tables are in place: number_tables().
      b.content = process_blocks(b.content)
      out[#out + 1] = b
    elseif b.t == "BlockQuote" then
      b.content = process_blocks(b.content)
      out[#out + 1] = b
    elseif b.t == "BulletList" or b.t == "OrderedList" then
      for k, item in ipairs(b.content) do
        b.content[k] = process_blocks(item)
      end
      out[#out + 1] = b
    else
      out[#out + 1] = b
    end
    if b.t ~= "Header" then
      scan_inlines(b)
    end
    ::continue::
  end
  return out
end

---------------------------------------------------------------------------
-- Generated indexes
---------------------------------------------------------------------------

-- Basic exit reasons, SDM Vol. 3 Appendix C; names as in Linux's
-- arch/x86/include/uapi/asm/vmx.h.
local VMX_EXIT_REASONS = {
  { 0, "EXIT_REASON_EXCEPTION_NMI", "exception or NMI" },
  { 1, "EXIT_REASON_EXTERNAL_INTERRUPT", "external interrupt" },
  { 2, "EXIT_REASON_TRIPLE_FAULT", "triple fault" },
  { 3, "EXIT_REASON_INIT_SIGNAL", "INIT signal" },
  { 4, "EXIT_REASON_SIPI_SIGNAL", "start-up IPI" },
  { 7, "EXIT_REASON_INTERRUPT_WINDOW", "interrupt window" },
  { 8, "EXIT_REASON_NMI_WINDOW", "NMI window" },
  { 9, "EXIT_REASON_TASK_SWITCH", "task switch" },
  { 10, "EXIT_REASON_CPUID", "CPUID" },
  { 12, "EXIT_REASON_HLT", "HLT" },
  { 13, "EXIT_REASON_INVD", "INVD" },
  { 14, "EXIT_REASON_INVLPG", "INVLPG" },
  { 15, "EXIT_REASON_RDPMC", "RDPMC" },
  { 16, "EXIT_REASON_RDTSC", "RDTSC" },
  { 18, "EXIT_REASON_VMCALL", "VMCALL" },
  { 19, "EXIT_REASON_VMCLEAR", "VMCLEAR" },
  { 20, "EXIT_REASON_VMLAUNCH", "VMLAUNCH" },
  { 21, "EXIT_REASON_VMPTRLD", "VMPTRLD" },
  { 22, "EXIT_REASON_VMPTRST", "VMPTRST" },
  { 23, "EXIT_REASON_VMREAD", "VMREAD" },
  { 24, "EXIT_REASON_VMRESUME", "VMRESUME" },
  { 25, "EXIT_REASON_VMWRITE", "VMWRITE" },
  { 26, "EXIT_REASON_VMOFF", "VMXOFF" },
  { 27, "EXIT_REASON_VMON", "VMXON" },
  { 28, "EXIT_REASON_CR_ACCESS", "control-register access" },
  { 29, "EXIT_REASON_DR_ACCESS", "MOV DR" },
  { 30, "EXIT_REASON_IO_INSTRUCTION", "I/O instruction" },
  { 31, "EXIT_REASON_MSR_READ", "RDMSR" },
  { 32, "EXIT_REASON_MSR_WRITE", "WRMSR" },
  { 33, "EXIT_REASON_INVALID_STATE", "VM-entry failure: invalid guest state" },
  { 34, "EXIT_REASON_MSR_LOAD_FAIL", "VM-entry failure: MSR loading" },
  { 36, "EXIT_REASON_MWAIT_INSTRUCTION", "MWAIT" },
  { 37, "EXIT_REASON_MONITOR_TRAP_FLAG", "monitor trap flag" },
  { 39, "EXIT_REASON_MONITOR_INSTRUCTION", "MONITOR" },
  { 40, "EXIT_REASON_PAUSE_INSTRUCTION", "PAUSE" },
  { 41, "EXIT_REASON_MCE_DURING_VMENTRY", "VM-entry failure: machine check" },
  { 43, "EXIT_REASON_TPR_BELOW_THRESHOLD", "TPR below threshold" },
  { 44, "EXIT_REASON_APIC_ACCESS", "APIC access" },
  { 45, "EXIT_REASON_EOI_INDUCED", "virtualized EOI" },
  { 46, "EXIT_REASON_GDTR_IDTR", "access to GDTR or IDTR" },
  { 47, "EXIT_REASON_LDTR_TR", "access to LDTR or TR" },
  { 48, "EXIT_REASON_EPT_VIOLATION", "EPT violation" },
  { 49, "EXIT_REASON_EPT_MISCONFIG", "EPT misconfiguration" },
  { 50, "EXIT_REASON_INVEPT", "INVEPT" },
  { 51, "EXIT_REASON_RDTSCP", "RDTSCP" },
  { 52, "EXIT_REASON_PREEMPTION_TIMER", "VMX-preemption timer expired" },
  { 53, "EXIT_REASON_INVVPID", "INVVPID" },
  { 54, "EXIT_REASON_WBINVD", "WBINVD" },
  { 55, "EXIT_REASON_XSETBV", "XSETBV" },
  { 56, "EXIT_REASON_APIC_WRITE", "APIC write" },
  { 57, "EXIT_REASON_RDRAND", "RDRAND" },
  { 58, "EXIT_REASON_INVPCID", "INVPCID" },
  { 59, "EXIT_REASON_VMFUNC", "VMFUNC" },
  { 60, "EXIT_REASON_ENCLS", "ENCLS" },
  { 61, "EXIT_REASON_RDSEED", "RDSEED" },
  { 62, "EXIT_REASON_PML_FULL", "page-modification log full" },
  { 63, "EXIT_REASON_XSAVES", "XSAVES" },
  { 64, "EXIT_REASON_XRSTORS", "XRSTORS" },
}

-- minikvm's exit handlers, read from its exit table ([EXIT_REASON_X] = fn).
local function minikvm_handlers()
  local map = {}
  for _, rel in ipairs({ "kvm/vmx.c", "kvm/vmx/vmx.c", "kvm/vmx_exit.c" }) do
    local f = io.open(SOLUTION .. "/" .. rel, "r")
    if f then
      local text = f:read("a")
      f:close()
      for reason, fn in text:gmatch("%[%s*(EXIT_REASON_[A-Z0-9_]+)%s*%]%s*=%s*&?([%w_]+)") do
        map[reason] = { fn = fn, file = rel }
      end
    end
  end
  return map
end

local function section_links(list)
  local inl = {}
  for k, e in ipairs(list or {}) do
    if k > 1 then inl[#inl + 1] = pandoc.Str(", ") end
    if is_latex then
      inl[#inl + 1] = pandoc.RawInline("latex", "\\ref{" .. e.id .. "}")
    else
      inl[#inl + 1] = pandoc.Link({ pandoc.Str(e.num) }, "#" .. e.id)
    end
  end
  if #inl == 0 then inl = { pandoc.Str("—") } end
  return inl
end

-- Markdown text -> inlines (a generated table's caption).
function inlines_of(text)
  local blocks = pandoc.read(text, "markdown").blocks
  return blocks[1] and blocks[1].content or {}
end

local function simple_table(caption, headers, rows, aligns, widths_in)
  local hdr = {}
  for _, h in ipairs(headers) do hdr[#hdr + 1] = { pandoc.Plain({ pandoc.Str(h) }) } end
  local body = {}
  for _, r in ipairs(rows) do
    local row = {}
    for _, cell in ipairs(r) do row[#row + 1] = { pandoc.Plain(cell) } end
    body[#body + 1] = row
  end
  local widths = {}
  for k = 1, #headers do widths[k] = widths_in and widths_in[k] or 0 end
  return pandoc.utils.from_simple_table(
    pandoc.SimpleTable(caption, aligns, widths, hdr, body))
end

local function kvm_api_index()
  local groups = {
    { "ioctls and other KVM_* names", function(t)
      return (not t:match("^KVM_EXIT_") or t:match("^KVM_EXIT_IO_IN$") or t:match("^KVM_EXIT_IO_OUT$"))
        and not t:match("^KVM_CAP_") end,
      "The KVM API: ioctls and other `KVM_*` names, and the sections that use them." },
    { "KVM_RUN exit reasons (kvm_run.exit_reason)", function(t)
      return t:match("^KVM_EXIT_") ~= nil and not t:match("^KVM_EXIT_IO_IN$") and not t:match("^KVM_EXIT_IO_OUT$") end,
      "`KVM_RUN` exit reasons (`kvm_run.exit_reason`), and the sections that use them." },
    { "capabilities (KVM_CHECK_EXTENSION)", function(t) return t:match("^KVM_CAP_") ~= nil end,
      "Capabilities (`KVM_CHECK_EXTENSION`), and the sections that use them." },
  }
  local terms = {}
  for t, _ in pairs(index_terms) do
    if t:match("^KVM_") then terms[#terms + 1] = t end
  end
  table.sort(terms)
  local blocks = {}
  for _, g in ipairs(groups) do
    local rows = {}
    for _, t in ipairs(terms) do
      if g[2](t) then
        rows[#rows + 1] = { { pandoc.Code(t) }, section_links(index_terms[t]) }
      end
    end
    if #rows > 0 then
      blocks[#blocks + 1] = simple_table(inlines_of(g[3]), { "Name", "Sections" }, rows,
        { pandoc.AlignLeft, pandoc.AlignLeft }, { 0.45, 0.5 })
    end
  end
  return blocks
end

-- The exit-reason numbers as minikvm's kvm/vmx/vmcs.h defines them, so that
-- the index shows what the code uses; the built-in table gives the
-- descriptions (and the numbers, if the header is missing).
local function vmx_exit_reasons()
  local f = io.open(SOLUTION .. "/kvm/vmx/vmcs.h", "r") or io.open(SOLUTION .. "/kvm/vmx.h", "r")
  if not f then return VMX_EXIT_REASONS end
  local text = f:read("a")
  f:close()
  local cause = {}
  for _, e in ipairs(VMX_EXIT_REASONS) do cause[e[2]] = e[3] end
  local list = {}
  for name, num in text:gmatch("(EXIT_REASON_[A-Z0-9_]+)%s*=%s*(%d+)") do
    list[#list + 1] = { tonumber(num), name, cause[name] or name:gsub("^EXIT_REASON_", ""):gsub("_", " "):lower() }
  end
  if #list == 0 then return VMX_EXIT_REASONS end
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return list
end

local function vmx_exit_index()
  local handlers = minikvm_handlers()
  local rows = {}
  for _, e in ipairs(vmx_exit_reasons()) do
    local h = handlers[e[2]]
    local list = index_terms[e[2]]
    if h or list then
      rows[#rows + 1] = {
        { pandoc.Str(tostring(e[1])) },
        { pandoc.Code((e[2]:gsub("^EXIT_REASON_", ""))) },
        { pandoc.Str(e[3]) },
        h and { pandoc.Code(h.fn .. "()") } or { pandoc.Str("—") },
        section_links(list),
      }
    end
  end
  return {
    simple_table(inlines_of("VMX basic exit reasons (SDM Vol. 3C Appendix C): the numbers of " ..
                            "`solution/kvm/vmx/vmcs.h`, minikvm's handlers, and the sections that use them."),
      { "No.", "Reason", "Cause", "minikvm handler", "Sections" }, rows,
      { pandoc.AlignRight, pandoc.AlignLeft, pandoc.AlignLeft, pandoc.AlignLeft, pandoc.AlignLeft },
      { 0.06, 0.27, 0.25, 0.27, 0.12 }),
  }
end

-- Source-map tables: every kvmlabs function in column 1 must be defined in
-- the solution/ file of column 2, so the appendix cannot name stale code.
local function check_source_map(div)
  for _, b in ipairs(div.content) do
    if b.t == "Table" then
      local st = pandoc.utils.to_simple_table(b)
      for _, row in ipairs(st.rows) do
        local fn = pandoc.utils.stringify(row[1]):match("^([%w_]+)%(%)$")
        local rel = pandoc.utils.stringify(row[2])
        if fn and rel ~= "" then
          local f = io.open(SOLUTION .. "/" .. rel, "r")
          if not f then
            fail("source map names solution/" .. rel .. ", which does not exist (for " .. fn .. "())")
          end
          local text = f:read("a")
          f:close()
          local found = false
          for pos in text:gmatch("()" .. fn:gsub("_", "%%_") .. "%s*[%(:]") do
            local before = pos > 1 and text:sub(pos - 1, pos - 1) or " "
            if not before:match("[%w_]") then found = true break end
          end
          if not found then
            fail("source map: " .. fn .. "() is not defined in solution/" .. rel)
          end
        end
      end
    end
  end
end

-- Every lab exercise in solution/ (labs 01-04, the labs this book covers),
-- with the listing that shows its skeleton.
local function exercises_index()
  local rows = {}
  local pipe = io.popen("cd '" .. SOLUTION .. "' && find . -type f \\( -name '*.c' -o -name '*.h' -o -name '*.S' \\) | sort")
  local files = {}
  for line in pipe:lines() do files[#files + 1] = line:gsub("^%./", "") end
  pipe:close()
  local list = {}
  for _, rel in ipairs(files) do
    local f = io.open(SOLUTION .. "/" .. rel, "r")
    if f then
      for line in f:lines() do
        local lab, name, task = line:match("^%s*//%s*@lab%s+(%d+)%s+([%w_%.%-]+):%s*(.-)%s*$")
        if lab then
          list[#list + 1] = { lab = tonumber(lab), name = name, task = task, rel = rel, seq = #list }
        end
      end
      f:close()
    end
  end
  table.sort(list, function(a, b)
    if a.lab ~= b.lab then return a.lab < b.lab end
    if a.rel ~= b.rel then return a.rel < b.rel end
    return a.seq < b.seq
  end)
  local last = 1
  for _, e in ipairs(list) do
    if e.lab > last then last = e.lab end
    local shown = shown_exercises[e.rel .. ":" .. e.name]
    local where
    if shown then
      if is_latex then
        where = { pandoc.RawInline("latex", "\\ref{" .. shown.id .. "}") }
      else
        where = { pandoc.Link({ pandoc.Str(shown.num) }, "#" .. shown.id) }
      end
    else
      where = { pandoc.Str("—") }
      io.stderr:write("book: note: lab " .. e.lab .. " exercise " .. e.name .. " (solution/" .. e.rel ..
                      ") has no skeleton listing in the book\n")
    end
    rows[#rows + 1] = {
      { pandoc.Str(string.format("%02d", e.lab)) },
      { pandoc.Code(e.name .. "()") },
      pandoc.read(e.task, "markdown").blocks[1] and pandoc.read(e.task, "markdown").blocks[1].content or { pandoc.Str(e.task) },
      { pandoc.Code(e.rel) },
      where,
    }
  end
  return {
    simple_table(inlines_of(string.format("The exercises of labs 01–%02d, and the listing that shows each one's skeleton.", last)),
      { "Lab", "Exercise", "Task", "File", "Listing" }, rows,
      { pandoc.AlignLeft, pandoc.AlignLeft, pandoc.AlignLeft, pandoc.AlignLeft, pandoc.AlignLeft },
      { 0.05, 0.25, 0.40, 0.20, 0.08 }),
  }
end

-- The VMCS field encodings, from the enum in solution/kvm/vmx/vmcs.h: a
-- compact table in place of the enum itself. The width and the kind of a
-- field are bits 14:13 and 11:10 of its encoding (SDM Vol. 3D Appendix B);
-- a "high" encoding (bit 0 set) is the upper half of a 64-bit field.
-- Attributes: area="control,exit,guest,host" (any of them; default all),
-- caption="..." (Markdown; a default caption otherwise).
local VMCS_WIDTH = { [0] = "16", [1] = "64", [2] = "32", [3] = "natural" }
local VMCS_AREA = { [0] = "control", [1] = "exit", [2] = "guest", [3] = "host" }
local VMCS_AREA_NAME = { control = "control", exit = "VM-exit information", guest = "guest state", host = "host state" }

local function vmcs_fields(div)
  local rel = "kvm/vmx/vmcs.h"
  local f = io.open(SOLUTION .. "/" .. rel, "r")
  if not f then fail("vmcs-fields: missing solution/" .. rel) end
  local text = f:read("a")
  f:close()
  local body = text:match("enum%s+vmcs_field%s*{(.-)}")
  if not body then fail("vmcs-fields: no enum vmcs_field in solution/" .. rel) end
  local want = {}
  local areas = div.attributes["area"]
  for a in (areas or "control,exit,guest,host"):gmatch("[%a]+") do
    if not VMCS_AREA_NAME[a] then fail("vmcs-fields: unknown area '" .. a .. "' (control, exit, guest, host)") end
    want[a] = true
  end
  local rows = {}
  for name, enc in body:gmatch("([A-Z][A-Z0-9_]*)%s*=%s*(0x%x+)") do
    local e = tonumber(enc)
    local area = VMCS_AREA[(e >> 10) & 3]
    if want[area] then
      local width = VMCS_WIDTH[(e >> 13) & 3]
      if e & 1 == 1 then width = "high 32 of 64" end
      rows[#rows + 1] = { e, name, width, VMCS_AREA_NAME[area] }
    end
  end
  if #rows == 0 then fail("vmcs-fields: no field of area " .. (areas or "any") .. " in solution/" .. rel) end
  table.sort(rows, function(a, b) return a[1] < b[1] end)
  -- Two fields to a row: the table is half as long.
  local half = math.ceil(#rows / 2)
  local out = {}
  for i = 1, half do
    local r = {}
    for _, e in ipairs({ rows[i], rows[i + half] }) do
      if e then
        r[#r + 1] = { pandoc.Code(string.format("0x%04x", e[1])) }
        r[#r + 1] = { pandoc.Code(e[2]) }
        r[#r + 1] = { pandoc.Str(e[3]) }
      else
        r[#r + 1], r[#r + 2], r[#r + 3] = {}, {}, {}
      end
    end
    out[#out + 1] = r
  end
  local cap = div.attributes["caption"] or
    ("VMCS fields that minikvm uses, by encoding (SDM Vol. 3D Appendix B; names as Linux's), " ..
     "from `solution/kvm/vmx/vmcs.h`. Width in bits.")
  local L = pandoc.AlignLeft
  return { simple_table(inlines_of(cap), { "Enc.", "Field", "Width", "Enc.", "Field", "Width" }, out,
    { L, L, L, L, L, L }, { 0.085, 0.335, 0.08, 0.085, 0.335, 0.08 }) }
end

local function fill_indexes(blocks)
  for k, b in ipairs(blocks) do
    if b.t == "Div" then
      if b.identifier == "vmcs-fields" or b.classes:includes("vmcs-fields") then
        b.content = vmcs_fields(b)
      elseif b.identifier == "index-kvm-api" then
        b.content = kvm_api_index()
      elseif b.identifier == "index-vmx-exits" then
        b.content = vmx_exit_index()
      elseif b.identifier == "index-exercises" then
        b.content = exercises_index()
      else
        if b.classes:includes("source-map") then check_source_map(b) end
        fill_indexes(b.content)
      end
    end
  end
end

---------------------------------------------------------------------------
-- Table numbering
---------------------------------------------------------------------------

-- After the generated tables are in place: every table with a caption gets
-- the next number of its chapter, in document order, as LaTeX counts its
-- captioned longtables. A table in a #tbl: Div takes the Div's id.
local tbl_chapter, tbl_count = nil, 0

local function first_header_cell(t)
  local ok, st = pcall(pandoc.utils.to_simple_table, t)
  if ok and st.headers and st.headers[1] then
    local h = pandoc.utils.stringify(st.headers[1])
    if h ~= "" then return h end
  end
  if ok and st.rows and st.rows[1] and st.rows[1][1] then
    return pandoc.utils.stringify(st.rows[1][1])
  end
  return "?"
end

local function number_table(t, id)
  local where = tbl_chapter and ("chapter " .. tbl_chapter) or "the front or back matter"
  if #t.caption.long == 0 or pandoc.utils.stringify(t.caption.long) == "" then
    warn("table without a caption in " .. where .. " (first header cell: '" .. first_header_cell(t) ..
         "'): write 'Table: Caption.' after it")
    return t
  end
  if not tbl_chapter then
    warn("table in " .. where .. " cannot be numbered (first header cell: '" .. first_header_cell(t) .. "')")
    return t
  end
  tbl_count = tbl_count + 1
  local num = tbl_chapter .. "." .. tbl_count
  if id then register(id, { kind = "tbl", num = num }) end
  local cap = t.caption.long[1]
  if cap.t ~= "Plain" and cap.t ~= "Para" then return t end
  if is_latex then
    if id then cap.content[#cap.content + 1] = pandoc.RawInline("latex", "\\label{" .. id .. "}") end
  else
    table.insert(cap.content, 1, pandoc.Space())
    table.insert(cap.content, 1, pandoc.Strong({ pandoc.Str("Table\u{a0}" .. num .. ":") }))
  end
  return t
end

function number_tables(blocks)
  local out = {}
  for _, b in ipairs(blocks) do
    if b.t == "Header" and b.level == 1 then
      local e = refs[b.identifier]
      tbl_chapter = (e and not e.unnumbered) and e.num or nil
      tbl_count = 0
      out[#out + 1] = b
    elseif b.t == "Table" then
      out[#out + 1] = number_table(b, nil)
    elseif b.t == "Div" and b.identifier:match("^tbl:") then
      local tables = 0
      for _, x in ipairs(b.content) do if x.t == "Table" then tables = tables + 1 end end
      if tables ~= 1 then
        fail("Div #" .. b.identifier .. " holds " .. tables .. " tables; it must hold exactly one")
      end
      local content = {}
      for _, x in ipairs(b.content) do
        if x.t == "Table" then x = number_table(x, b.identifier) end
        content[#content + 1] = x
      end
      if not refs[b.identifier] then
        fail("table #" .. b.identifier .. " has no caption (write 'Table: Caption.' after it)")
      end
      if is_latex then
        -- longtable cannot sit inside \hypertarget's argument: the label is in the caption.
        for _, x in ipairs(content) do out[#out + 1] = x end
      else
        b.content = content
        out[#out + 1] = b
      end
    elseif b.t == "Div" or b.t == "BlockQuote" then
      b.content = number_tables(b.content)
      out[#out + 1] = b
    elseif b.t == "BulletList" or b.t == "OrderedList" then
      for k, item in ipairs(b.content) do b.content[k] = number_tables(item) end
      out[#out + 1] = b
    else
      out[#out + 1] = b
    end
  end
  return out
end

---------------------------------------------------------------------------
-- Cross-references
---------------------------------------------------------------------------

local KIND_NAME = { fig = "Figure", lst = "Listing", tbl = "Table" }
local XREF = { sec = true, fig = true, lst = true, tbl = true }

local function is_xref(id)
  local kind = id:match("^(%a+):")
  return kind ~= nil and XREF[kind] ~= nil
end

-- The keys of the bibliography (BibTeX: "@type{key,").
local bib_keys = nil
local bib_name = nil

local function load_bibliography(meta)
  local files = {}
  local b = meta.bibliography
  if b then
    if type(b) == "table" and b.t ~= "MetaInlines" and b.t ~= "MetaString" and #b > 0 then
      for _, x in ipairs(b) do files[#files + 1] = pandoc.utils.stringify(x) end
    else
      files[#files + 1] = pandoc.utils.stringify(b)
    end
  elseif os.getenv("KVMLABS_BIB") then
    files[#files + 1] = os.getenv("KVMLABS_BIB")
  end
  if #files == 0 then return end
  bib_keys, bib_name = {}, table.concat(files, ", ")
  for _, path in ipairs(files) do
    local f = io.open(path, "r")
    if not f then fail("missing bibliography " .. path) end
    local text = f:read("a")
    f:close()
    for key in text:gmatch("@%a+%s*{%s*([^%s,]+)%s*,") do bib_keys[key] = true end
  end
end

local function check_citation(c)
  for _, cit in ipairs(c.citations) do
    if not bib_keys then
      fail("citation @" .. cit.id .. " but no bibliography (pandoc --bibliography)")
    end
    if not bib_keys[cit.id] then
      fail("unknown citation @" .. cit.id .. " (not in " .. bib_name .. ")")
    end
  end
  return nil   -- citeproc renders it
end

-- A cross-reference @sec:/@fig:/@lst:/@tbl: becomes "Section 2.4" etc.;
-- anything else is a citation of the bibliography, left to citeproc.
local function resolve(c)
  local n = 0
  for _, cit in ipairs(c.citations) do
    if is_xref(cit.id) then n = n + 1 end
  end
  if n == 0 then return check_citation(c) end
  if n < #c.citations then
    fail("a cross-reference and a citation in one bracket: " .. pandoc.utils.stringify(c.content) ..
         " (write them apart)")
  end
  local out = {}
  for k, cit in ipairs(c.citations) do
    local id = cit.id
    local e = refs[id]
    if not e then
      fail("unresolved reference @" .. id)
    end
    local word = KIND_NAME[e.kind]
    if e.kind == "sec" then
      word = (e.level == 1) and (e.num:match("^%a$") and "Appendix" or "Chapter") or "Section"
    end
    if cit.mode == "SuppressAuthor" then word = nil end
    if k > 1 then out[#out + 1] = pandoc.Str(", ") end
    for _, x in ipairs(cit.prefix or {}) do out[#out + 1] = x end
    if #(cit.prefix or {}) > 0 then out[#out + 1] = pandoc.Space() end
    if e.unnumbered then
      -- A chapter without a number is named by its title.
      if is_latex then
        out[#out + 1] = pandoc.RawInline("latex", "\\hyperref[" .. id .. "]{")
        out[#out + 1] = pandoc.Str(e.num)
        out[#out + 1] = pandoc.RawInline("latex", "}")
      else
        out[#out + 1] = pandoc.Link({ pandoc.Str(e.num) }, "#" .. id)
      end
    elseif is_latex then
      out[#out + 1] = pandoc.RawInline("latex", (word and (word .. "~") or "") .. "\\ref{" .. id .. "}")
    else
      out[#out + 1] = pandoc.Link({ pandoc.Str((word and (word .. "\u{a0}") or "") .. e.num) }, "#" .. id)
    end
    for _, x in ipairs(cit.suffix or {}) do out[#out + 1] = x end
  end
  return out
end

return {
  {
    Pandoc = function(doc)
      load_bibliography(doc.meta)
      doc.blocks = process_blocks(doc.blocks)
      fill_indexes(doc.blocks)
      doc.blocks = number_tables(doc.blocks)
      return doc
    end,
  },
  {
    Cite = resolve,
  },
}
