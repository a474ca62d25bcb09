/* firstword shop-front status banner. Add to a page:
 *   <script async src="https://status.example.com/banner.js"></script>
 * It reads banner.json next to itself and, when something is wrong, puts a one-line bar
 * (44px high) at the top of the page, or inside <div id="firstword-status-banner"></div> if
 * the page has one (to reserve the space), with the headline and a link to the status page.
 * Otherwise it does nothing, and any failure does nothing: it must never break the shop.
 * No eval, no innerHTML: text goes in with textContent. Styles are set through the CSSOM
 * (not style attributes) inside a shadow root: nothing leaks into the shop or out of it,
 * and the shop's Content-Security-Policy needs no 'unsafe-inline'.
 * Compact by hand: served as is, minus comment lines and indentation, it stays under 2 KB.
 * render.py fills in __CONFIG__: {labels: {<lang>: {more, close}}, fallback: <lang>}. */
(function(){
  var s=document.currentScript,C=__CONFIG__,D=document,W=";color:#fff;border-bottom:2px solid #",
  // status -> background, text and border colours (text contrast >= 4.5:1)
  T={minor:"#fff4d1;color:#111;border-bottom:2px solid #b58100",major:"#9a3f00"+W+"6e2d00",
    critical:"#b3131f"+W+"7d0d16",maintenance:"#0b57a4"+W+"083f77"};
  // dismissed this session? (storage may be off or throw: then it just shows again)
  function seen(k,v){
    try{return v?sessionStorage[k]=v:sessionStorage[k]}catch(e){}
  }
  function el(tag,css,parent){
    var e=D.createElement(tag);
    e.style.cssText=css;
    parent.appendChild(e);
    return e;
  }
  function show(d){
    var tone=d&&T[d.status],key="fwb:"+(d&&d.headline),url=String(d&&d.url),host=D.createElement("div"),
      w=C.labels[(D.documentElement.lang||"").slice(0,2).toLowerCase()]||C.labels[C.fallback],
      target=D.getElementById("firstword-status-banner")||D.body;
    if(!tone||!d.headline||seen(key))return;
    host.id="firstword-banner";
    var bar=el("div","display:flex;align-items:center;gap:12px;height:44px;padding:0 8px 0 16px;overflow:hidden;font:15px/1.3 system-ui,sans-serif;background:"+tone,
      host.attachShadow?host.attachShadow({mode:"open"}):host),
      text=el("b","flex:1;overflow:hidden;white-space:nowrap;text-overflow:ellipsis",bar),
      a=el("a","color:inherit;white-space:nowrap",bar),
      x=el("button","font:22px/1 sans-serif;color:inherit;background:none;border:0;padding:6px 10px;cursor:pointer",bar);
    bar.setAttribute("role","status");
    a.href=/^https?:\/\//.test(url)?url:new URL("./",s.src);
    a.textContent=w.more;
    x.textContent="\u00d7";
    x.setAttribute("aria-label",w.close);
    x.onclick=function(){
      host.remove();
      seen(key,1);
    };
    target.insertBefore(host,target.firstChild);
    // the text goes in once the bar is in the page, so screen readers announce it
    setTimeout(function(){text.textContent=text.title=d.headline},50);
  }
  function safe(d){
    try{show(d)}catch(e){}
  }
  try{
    fetch(new URL("banner.json",s.src),{credentials:"omit"})
      .then(function(r){return r.ok?r.json():null})
      .then(function(d){D.body?safe(d):D.addEventListener("DOMContentLoaded",function(){safe(d)})},safe);
  }catch(e){}
})();
