# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
ESTAB      0      0      [2001:db8::1]:45668 [2001:db8::2]:443        
FIN-WAIT-2 0      0      [2001:db8::1]:45674 [2001:db8::2]:443        
# netns server
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096   [2001:db8::2]:443           [::]:*           
ESTAB      0      0      [2001:db8::2]:443  [2001:db8::1]:45668       
CLOSE-WAIT 0      0      [2001:db8::2]:443  [2001:db8::1]:45674       
