# time 2026-12-06T00:21:47.185725079Z
# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
ESTAB      0      0      [2001:db8::1]:37724 [2001:db8::2]:114        
FIN-WAIT-2 0      0      [2001:db8::1]:43154 [2001:db8::2]:113        
ESTAB      0      0      [2001:db8::1]:40714 [2001:db8::2]:115        
ESTAB      0      0      [2001:db8::1]:60810 [2001:db8::2]:112        
# netns server
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096   [2001:db8::2]:112           [::]:*           
LISTEN     0      4096   [2001:db8::2]:113           [::]:*           
LISTEN     0      4096   [2001:db8::2]:114           [::]:*           
LISTEN     0      4096   [2001:db8::2]:115           [::]:*           
ESTAB      0      0      [2001:db8::2]:115  [2001:db8::1]:40714       
CLOSE-WAIT 0      0      [2001:db8::2]:113  [2001:db8::1]:43154       
ESTAB      0      0      [2001:db8::2]:112  [2001:db8::1]:60810       
ESTAB      0      0      [2001:db8::2]:114  [2001:db8::1]:37724       
